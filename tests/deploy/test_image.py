"""The Dockerfile and its .dockerignore, read without Docker: one image for every service,
multi-stage, a pinned slim base, an unprivileged user, built from exactly the package."""

from __future__ import annotations

import tomllib

import pytest

from tests.deploy.compose import REPO
from tests.deploy.dockerfile import (
    ARG,
    copy_sources,
    dockerignore_patterns,
    ignored,
    image_tag,
    instructions,
)

DOCKERFILE = REPO / "Dockerfile"
PATTERNS = dockerignore_patterns((REPO / ".dockerignore").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("path", "patterns", "out"),
    [
        ("secrets/x", ["*"], True),
        ("gateway/model.py", ["*", "!gateway/"], False),
        ("gateway/__pycache__/model.pyc", ["*", "!gateway/", "**/__pycache__"], True),
        ("a/b/c.txt", ["a/*"], True),
        ("a/b/c.txt", ["a/*.txt"], False),  # * stays within one level
        ("a/b/c.txt", ["a/**/*.txt"], True),
        ("README.md", ["*.md", "!README.md"], False),
        ("docs/x.md", ["*.md"], False),
        (".env", ["*"], True),
    ],
)
def test_dockerignore_rules_as_docker_applies_them(
    path: str, patterns: list[str], out: bool
) -> None:
    assert ignored(path, patterns) is out


def test_the_image_is_multi_stage_on_a_pinned_slim_base() -> None:
    steps = instructions(DOCKERFILE.read_text(encoding="utf-8"))
    args = {m["name"]: m["value"] for s in steps if (m := ARG.match(f"ARG {s.arguments}"))
            and s.keyword == "ARG"}  # fmt: skip
    bases = [s.arguments.split()[0] for s in steps if s.keyword == "FROM"]
    assert len(bases) >= 2, "a build stage and a run stage"
    for base in bases:
        reference = args.get(base.strip("${}"), base)
        name, tag = image_tag(reference)
        assert name == "python", reference
        assert tag.startswith("3.11."), f"not a pinned Python 3.11: {reference}"
        assert "slim" in tag, f"not a slim image: {reference}"
    final = max(s.stage for s in steps)
    users = [s.arguments for s in steps if s.keyword == "USER" and s.stage == final]
    assert users, "the run stage must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    runs = " ".join(s.arguments for s in steps if s.keyword == "RUN")
    assert 'pip install ".[ftp]"' in runs
    assert [
        w.strip('[]" ') for s in steps if s.keyword == "ENTRYPOINT" for w in s.arguments.split(",")
    ] == ["quantrac"]
    copies = [s for s in steps if s.keyword == "COPY" and s.stage == final]
    assert [c.arguments for c in copies] == ["--from=build /opt/quantrac /opt/quantrac"], (
        "the run stage takes the built environment only, not the sources"
    )


def test_the_build_takes_every_part_of_the_package_and_nothing_else() -> None:
    steps = instructions(DOCKERFILE.read_text(encoding="utf-8"))
    sources = [src.rstrip("/") for s in steps if s.keyword == "COPY" for src in copy_sources(s)]
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {*wheel["packages"], *wheel["force-include"], "pyproject.toml",
              project["project"]["readme"]}  # fmt: skip
    assert needed <= set(sources), f"the wheel needs {sorted(needed - set(sources))}"
    for source in sources:
        path = REPO / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        kept = [f for f in files if not ignored(str(f.relative_to(REPO)), PATTERNS)]
        assert kept, f"{source}: .dockerignore keeps all of it out"
        assert all("__pycache__" not in f.parts for f in kept)


@pytest.mark.parametrize(
    "path",
    [".env", "secrets/store-url", "secrets/mosquitto/passwd", "data/quantrac.sqlite3",
     ".venv/bin/python", ".git/config", "backups/x/manifest.json", "tests/conftest.py",
     "gateway/__pycache__/model.cpython-311.pyc"],
)  # fmt: skip
def test_secrets_and_local_state_never_reach_the_build(path: str) -> None:
    assert ignored(path, PATTERNS)
