from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.board_site import BoardSite, board_site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[BoardSite]:
    """The Huế example with a seeded day, on a real API (keys needed for reads)."""
    with board_site(tmp_path) as served:
        yield served
