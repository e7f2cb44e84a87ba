from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Influxd, Mosquitto, VictoriaMetrics

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


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[Influxd]:
    """A real InfluxDB 1.x with an empty database ``quantrac``."""
    directory = tmp_path / "influxd"
    directory.mkdir()
    server = Influxd(directory)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    directory = tmp_path / "victoria-metrics"
    directory.mkdir()
    server = VictoriaMetrics(directory)
    server.start()
    yield server
    server.stop()
