"""Every file of the repository stands on its own: nothing cites a file outside it (a design note
a user who clones the project does not have), every ``docs/….md`` it names exists, and every
relative link of the docs resolves inside the repository (issue 17)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve()

# Written in pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        (
            r"\.\./" + "shared",
            r"\b(?:DESIGN|STYLE|VIETNAM)" + r"\.md\b",
            r"/work/" + r"(?:shared|notes)\b",
            r"docs/" + r"domain\b",
        )
    )
)
DOCS_NAMED = re.compile(r"\bdocs/([A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*\.md)\b")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked_files() -> list[Path]:
    """The repository's files as git tracks them (what a clone has), text ones only."""
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False, timeout=30
    )
    if done.returncode != 0:
        pytest.fail(f"git ls-files failed in {REPO}: {done.stderr.decode()!r}", pytrace=False)
    files = []
    for name in done.stdout.decode().split("\0"):
        path = REPO / name
        if name and path.is_file() and path.resolve() != THIS:
            files.append(path)
    return files


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None  # binary: images, fonts
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


FILES = [(path, text) for path in tracked_files() if (text := text_of(path)) is not None]


def test_no_file_cites_a_file_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(REPO)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group()}"
        for path, text in FILES
        for match in OUTSIDE.finditer(text)
    ]
    assert found == [], "put the fact in docs/ and cite that:\n" + "\n".join(found)


def test_every_docs_page_named_exists() -> None:
    missing = sorted(
        {
            f"{path.relative_to(REPO)}: docs/{match.group(1)}"
            for path, text in FILES
            if "tests" not in path.relative_to(REPO).parts[:1]  # tests name made-up pages
            for match in DOCS_NAMED.finditer(text)
            if not (REPO / "docs" / match.group(1)).is_file()
        }
    )
    assert missing == [], "\n".join(missing)


def test_relative_links_of_the_docs_resolve_inside_the_repository() -> None:
    broken = []
    for path, text in FILES:
        if path.suffix != ".md":
            continue
        for match in LINK.finditer(text):
            target = match.group(1).split("#", 1)[0]
            if not target or re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # an anchor, a URL, mailto:
            resolved = (path.parent / target).resolve()
            if not resolved.is_relative_to(REPO) or not resolved.exists():
                broken.append(f"{path.relative_to(REPO)}: {match.group(1)}")
    assert broken == [], "\n".join(broken)
