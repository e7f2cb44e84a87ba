from __future__ import annotations

import subprocess
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


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Service processes a test starts (append them); whatever still runs is killed after."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in reversed(started):
        if process.poll() is None:
            process.kill()
            process.wait()
