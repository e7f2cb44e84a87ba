"""Small async helpers shared by the end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest


async def eventually(
    predicate: Callable[[], bool], timeout_s: float = 15.0, what: str = ""
) -> None:
    """Wait until ``predicate()`` holds; fail with ``what`` when it does not in time."""
    try:
        async with asyncio.timeout(timeout_s):
            # Polling on purpose: the conditions are about stores and counters, not events.
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout_s} s: {what}") from None


@contextlib.asynccontextmanager
async def running(
    *coroutines: Coroutine[Any, Any, None],
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run service coroutines as tasks for the body of a ``with``; cancel them after."""
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.contextmanager
def small_disk(directory: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``directory`` (needs root, as in CI and the test script)."""
    directory.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(
            f"cannot mount a tmpfs for the full-disk test ({result.stderr.strip()}): run the "
            "tests as root (bash scripts/test.sh does, as CI does)",
            pytrace=False,
        )
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte with one file; removing it frees the disk."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 1 << 10, 1):  # big blocks, then the last bytes
            with contextlib.suppress(OSError):  # ENOSPC: this size no longer fits
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler
