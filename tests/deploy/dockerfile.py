"""A Dockerfile's instructions and a .dockerignore's patterns, read as Docker reads them."""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, COPY, RUN…
    arguments: str
    stage: int  # 0 for the first FROM's stage


def instructions(text: str) -> list[Instruction]:
    """The instructions, continuation lines joined, comments and blank lines left out."""
    joined: list[str] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        joined.append(current + stripped)
        current = ""
    found = []
    stage = -1
    for line in joined:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        found.append(Instruction(keyword, arguments.strip(), max(stage, 0)))
    return found


def copy_sources(instruction: Instruction) -> list[str]:
    """The context paths a COPY takes (none for ``COPY --from=…``, which copies a stage)."""
    words = [w for w in shlex.split(instruction.arguments)]
    if any(w.startswith("--from") for w in words):
        return []
    paths = [w for w in words if not w.startswith("--")]
    return paths[:-1]


def _segments_match(pattern: list[str], path: list[str]) -> bool:
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(_segments_match(pattern[1:], path[i:]) for i in range(len(path) + 1))
    return (
        bool(path)
        and fnmatch.fnmatchcase(path[0], pattern[0])
        and _segments_match(pattern[1:], path[1:])
    )


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps ``path`` (relative to the context) out of the build.

    Docker's rules: patterns in order, the last that matches wins, ``!`` re-includes, a
    pattern that matches a folder matches everything in it, ``*`` stays within one level,
    ``**`` spans any number.
    """
    parts = PurePosixPath(path).parts
    result = False
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = PurePosixPath(raw.removeprefix("!").strip("/")).parts
        if any(_segments_match(list(pattern), list(parts[:n])) for n in range(1, len(parts) + 1)):
            result = not negated
    return result


def dockerignore_patterns(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def image_tag(reference: str) -> tuple[str, str]:
    """``python:3.11.11-slim-bookworm`` → (``python``, ``3.11.11-slim-bookworm``)."""
    name, _, tag = reference.partition("@")[0].rpartition(":")
    if not name or "/" in tag:
        return reference, ""
    return name, tag


ARG = re.compile(r"^ARG\s+(?P<name>\w+)(?:=(?P<value>\S+))?")
