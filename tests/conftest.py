from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Mosquitto

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_SITE = REPO / "examples" / "hue"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    broker = Mosquitto(directory)
    broker.start()
    yield broker
    broker.stop()
