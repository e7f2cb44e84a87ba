"""Small async helpers shared by the end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any


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
