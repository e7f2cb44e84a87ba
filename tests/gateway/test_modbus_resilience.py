"""A real Poller over real endpoints that die, come back, or talk nonsense.

Each failing station must stay alone in its failure: the others' batches keep their rhythm.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Literal

import pytest

from gateway.config import StationConfig, TcpConnection
from gateway.modbus.hub import ModbusHub, ModbusReadError
from gateway.modbus.station import ModbusStation
from gateway.model import ReadingBatch
from gateway.poller import Poller
from gateway.profiles import default_profiles_dir, load_profile
from gateway.simulator import SimulatedDevice, SimulatedEndpoint
from tests.servers import free_port

RADAR = load_profile(default_profiles_dir() / "radar_level_mm.yaml")
NOW = datetime(2026, 11, 22, 16, 40, tzinfo=UTC)
INTERVAL_S = 1
TIMEOUT_S = 0.5


def tcp(port: int) -> TcpConnection:
    return TcpConnection(host="127.0.0.1", port=port)


def station(station_id: str, hub: ModbusHub, *, retries: int = 0) -> ModbusStation:
    config = StationConfig.model_validate(
        {
            "id": station_id,
            "name": station_id,
            "kind": "hydro",
            "district": "Phú Xuân",
            "source": {
                "profile": "radar_level_mm",
                "connection": hub.connection.model_dump(),
                "interval_s": INTERVAL_S,
                "timeout_s": TIMEOUT_S,
                "retries": retries,
            },
        }
    )
    return ModbusStation(config, RADAR, hub)


def gauge(level_m: float) -> SimulatedDevice:
    return SimulatedDevice(1, RADAR, lambda _t: {"water_level": level_m})


def level(batch: ReadingBatch) -> float | None:
    """The batch's water level in m, to the gauge's resolution (whole millimetres)."""
    return next((round(r.value, 3) for r in batch.readings if r.param == "water_level"), None)


def online(batch: ReadingBatch) -> float:
    return next(r.value for r in batch.readings if r.param == "station_online")


def largest_gap(times: list[float]) -> float:
    return max(b - a for a, b in itertools.pairwise(times))


class Arrivals:
    """The publish side of the Poller: every batch with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.batches: list[tuple[float, ReadingBatch]] = []
        self._arrived = asyncio.Condition()

    async def __call__(self, batch: ReadingBatch) -> None:
        self.batches.append((time.monotonic(), batch))
        async with self._arrived:
            self._arrived.notify_all()

    async def wait_for(self, predicate: Callable[[], object], timeout_s: float) -> None:
        """Until ``predicate()`` holds after some batch, or the timeout (no error then)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s), self._arrived:
                await self._arrived.wait_for(predicate)

    def of(self, station_id: str) -> list[tuple[float, ReadingBatch]]:
        return [(t, b) for t, b in self.batches if b.station == station_id]


@asynccontextmanager
async def polling(poller: Poller) -> AsyncIterator[None]:
    task = asyncio.create_task(poller.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# Exponential backoff of the hub, 0.5 s doubling to at most 4 s here. The production default
# (ModbusHub(reconnect_min_s=1, reconnect_max_s=30), as quantrac.runners wires it) has reached
# its 30 s ceiling after a minute down (1+2+4+8+16 s of attempts, then every 30 s), so there a
# restarted logger is polled again within 30 s + one interval; same arithmetic, longer wait.
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 4.0
DOWN_S = 60.0  # "a server stopped for a minute and started again"


@pytest.mark.timeout(180)
async def test_a_server_stopped_for_a_minute_is_polled_again_by_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.poller")
    steady_port, flaky_port = free_port(), free_port()
    steady_hub = ModbusHub(tcp(steady_port))
    flaky_hub = ModbusHub(
        tcp(flaky_port), reconnect_min_s=RECONNECT_MIN_S, reconnect_max_s=RECONNECT_MAX_S
    )
    arrivals = Arrivals()
    poller = Poller(
        "gw-test", [station("kim_long", steady_hub), station("phu_oc", flaky_hub)], arrivals
    )

    def resumed_after(instant: float) -> float | None:
        return next((t for t, b in arrivals.of("phu_oc") if t > instant and online(b) == 1.0), None)

    async with SimulatedEndpoint(tcp(steady_port), [gauge(1.75)]):
        first = SimulatedEndpoint(tcp(flaky_port), [gauge(0.9)])
        await first.start()
        async with polling(poller):
            await asyncio.sleep(3.5)
            stopped_at = time.monotonic()
            await first.stop()
            await asyncio.sleep(DOWN_S)
            # The same logger back on the same port, now with a new level to tell them apart.
            async with SimulatedEndpoint(tcp(flaky_port), [gauge(0.95)]):
                restarted_at = time.monotonic()
                deadline = restarted_at + RECONNECT_MAX_S + 2 * INTERVAL_S
                await arrivals.wait_for(
                    lambda: resumed_after(restarted_at) is not None, deadline + 2 - restarted_at
                )
                await asyncio.sleep(2.2)  # a couple of polls after the recovery
        await steady_hub.close()
        await flaky_hub.close()

    # The steady station never stopped, from the first poll to the last.
    steady = arrivals.of("kim_long")
    assert steady[-1][0] - steady[0][0] > DOWN_S + 4
    assert {(level(b), online(b)) for _, b in steady} == {(1.75, 1.0)}
    assert largest_gap([t for t, _ in steady]) <= 2.5
    health = poller.health["kim_long"]
    assert (health.online, health.errors, health.consecutive_failures) == (True, 0, 0)

    # The flaky one: up, then one unbroken outage of station_online=0 batches, then up again.
    flaky = arrivals.of("phu_oc")
    states = [online(b) for _, b in flaky]
    up_before = states.index(0.0)
    down = states[up_before:].index(1.0)
    assert up_before >= 2
    assert set(states[up_before + down :]) == {1.0}
    outage = flaky[up_before : up_before + down]
    assert all([r.param for r in b.readings] == ["station_online"] for _, b in outage)
    assert stopped_at <= outage[0][0]
    assert outage[-1][0] <= deadline
    assert down >= DOWN_S / INTERVAL_S - 3
    assert {level(b) for _, b in flaky[:up_before]} == {0.9}
    assert {level(b) for _, b in flaky[up_before + down :]} == {0.95}

    resumed_at = resumed_after(restarted_at)
    assert resumed_at is not None, "polling of phu_oc did not resume after its restart"
    assert resumed_at - restarted_at <= RECONNECT_MAX_S + 2 * INTERVAL_S
    health = poller.health["phu_oc"]
    assert (health.online, health.errors, health.consecutive_failures) == (True, down, 0)

    # Logged once at ERROR, then at DEBUG while down, and the recovery at INFO.
    records = [r for r in caplog.records if r.name == "gateway.poller"]
    errors = [r.getMessage() for r in records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].startswith("phu_oc: offline: ")
    assert f"tcp://127.0.0.1:{flaky_port} unit 1 holding registers" in errors[0]
    still = [r for r in records if r.levelno == logging.DEBUG and "still offline" in r.msg]
    assert len(still) == down - 1
    assert {r.args[0] for r in still if isinstance(r.args, tuple)} == {"phu_oc"}
    infos = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert infos == [f"phu_oc: back online after {down} failed poll(s)"]


GarbageMode = Literal["random", "truncated", "wrong_function"]


class GarbageDevice:
    """A TCP server on loopback that answers every request, never with the answer asked for.

    ``random``: random bytes (seeded: a failure can be replayed); ``truncated``: an MBAP
    header and function code that promise four data bytes, then only one of them;
    ``wrong_function``: a well-formed answer from the input table to a holding-register read.
    """

    def __init__(self, mode: GarbageMode) -> None:
        self.mode = mode
        self.port = free_port()
        self.requests = 0
        self._random = random.Random(20261122)
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[object]] = set()

    def answer(self, request: bytes) -> bytes:
        if self.mode == "random":
            return self._random.randbytes(self._random.randrange(1, 40))
        transaction, _protocol, _length, unit = struct.unpack(">HHHB", request[:7])
        if self.mode == "truncated":
            return struct.pack(">HHHBBB", transaction, 0, 7, unit, 3, 4) + b"\x05"
        assert self.mode == "wrong_function"
        return struct.pack(">HHHBBBHH", transaction, 0, 7, unit, 4, 4, 1234, 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            while request := await reader.read(260):
                self.requests += 1
                writer.write(self.answer(request))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[GarbageDevice]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        try:
            yield self
        finally:
            server.close()
            for writer in list(self._writers):
                writer.close()
            # Python 3.11's wait_closed does not wait for the connection handlers.
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()


@pytest.mark.parametrize("mode", ["random", "truncated"])
async def test_a_device_answering_garbage_fails_alone_within_its_timeout(
    mode: GarbageMode,
) -> None:
    good_port = free_port()
    arrivals = Arrivals()
    async with (
        GarbageDevice(mode).serving() as garbage,
        SimulatedEndpoint(tcp(good_port), [gauge(2.25)]),
    ):
        garbage_hub = ModbusHub(tcp(garbage.port), reconnect_min_s=0.0)
        good_hub = ModbusHub(tcp(good_port))

        start = time.monotonic()
        with pytest.raises(ModbusReadError) as raised:
            await station("babbler", garbage_hub, retries=1).read(NOW)
        elapsed = time.monotonic() - start
        assert str(raised.value) == (
            f"tcp://127.0.0.1:{garbage.port} unit 1 holding registers 0..1: "
            f"no answer within {TIMEOUT_S:g} s"
        )
        # Two attempts, each heard garbage and gave up at its timeout: bounded, no hang.
        assert garbage.requests == 2
        assert 2 * TIMEOUT_S - 0.05 <= elapsed <= 2 * TIMEOUT_S + 0.5

        poller = Poller(
            "gw-test", [station("babbler", garbage_hub), station("kim_long", good_hub)], arrivals
        )
        async with polling(poller):
            await asyncio.sleep(4.5)
        await garbage_hub.close()
        await good_hub.close()

    good = arrivals.of("kim_long")
    assert len(good) >= 4
    assert {(level(b), online(b)) for _, b in good} == {(2.25, 1.0)}
    assert largest_gap([t for t, _ in good]) <= 1.5
    bad = arrivals.of("babbler")
    assert len(bad) >= len(good) - 1  # every poll of it ended, none was left hanging
    assert {online(b) for _, b in bad} == {0.0}
    health = poller.health["babbler"]
    assert (health.online, health.errors) == (False, len(bad))
    assert health.last_error.startswith(
        f"tcp://127.0.0.1:{garbage.port} unit 1 holding registers 0..1: "
    )
    assert poller.health["kim_long"].online


async def test_an_answer_of_the_wrong_function_is_refused_not_decoded() -> None:
    async with GarbageDevice("wrong_function").serving() as device:
        hub = ModbusHub(tcp(device.port))
        with pytest.raises(ModbusReadError) as raised:
            await hub.read(1, "holding", 0, 2, timeout_s=TIMEOUT_S, retries=0)
        await hub.close()
    assert str(raised.value).startswith(
        f"tcp://127.0.0.1:{device.port} unit 1 holding registers 0..1: "
    )
    assert str(raised.value).endswith(": answered function 4 to function 3")
