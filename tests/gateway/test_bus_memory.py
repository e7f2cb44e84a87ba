"""Topic-filter matching and the in-process bus: fan-out, shared groups, bounded queues."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway.bus import BusMessage, Subscription, split_shared, topic_matches
from gateway.bus.memory import InProcessBus


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("quantrac/v1/raw/kim_long", "quantrac/v1/raw/kim_long", True),
        ("quantrac/v1/raw/kim_long", "quantrac/v1/raw/phu_oc", False),
        ("quantrac/v1/raw/kim_long", "Quantrac/v1/raw/kim_long", False),
        ("quantrac/v1/raw/+", "quantrac/v1/raw/kim_long", True),
        ("quantrac/v1/raw/+", "quantrac/v1/clean/kim_long", False),
        ("quantrac/v1/raw/+", "quantrac/v1/raw", False),
        ("quantrac/v1/raw/+", "quantrac/v1/raw/kim_long/extra", False),
        ("quantrac/v1/raw/+", "quantrac/v1/raw/", True),  # + matches an empty level
        ("quantrac/v1/+/kim_long", "quantrac/v1/clean/kim_long", True),
        ("quantrac/v1/+/kim_long", "quantrac/v1/clean/phu_oc", False),
        ("quantrac/+/+/+", "quantrac/v1/raw/kim_long", True),
        ("quantrac/+/+/+", "quantrac/v1/raw", False),
        ("+", "quantrac", True),
        ("+", "quantrac/v1", False),
        ("+/+", "/quantrac", True),
        ("/+", "/quantrac", True),
        ("quantrac/#", "quantrac/v1/raw/kim_long", True),
        ("quantrac/#", "quantrac/v1", True),
        ("quantrac/#", "quantrac", True),  # # also matches the parent level
        ("quantrac/#", "other/v1", False),
        ("quantrac/#", "quantracx/v1", False),
        ("quantrac/v1/#", "quantrac/v2/raw", False),
        ("#", "quantrac/v1/raw/kim_long", True),
        ("#", "x", True),
        ("+/v1/#", "quantrac/v1/raw/kim_long", True),
        ("+/v1/#", "quantrac/v2/raw/kim_long", False),
        ("a/+/c/#", "a/b/c", True),
        ("a/+/c/#", "a/b/c/d/e", True),
        ("a/+/c/#", "a/b/d/e", False),
        ("a/b", "a/b/c", False),
        ("a/b/c", "a/b", False),
        ("$share/collectors/quantrac/v1/raw/+", "quantrac/v1/raw/kim_long", True),
        ("$share/collectors/quantrac/v1/raw/+", "quantrac/v1/clean/kim_long", False),
        ("$share/collectors/quantrac/v1/raw/+", "$share/collectors/quantrac/v1/raw/x", False),
        ("$share/g/#", "quantrac/v1/incidents/hue_air", True),
        ("$share/g/quantrac/v1/+/kim_long", "quantrac/v1/raw/kim_long", True),
        pytest.param("#", "$SYS/broker/load", False),
        pytest.param("+/broker/load", "$SYS/broker/load", False),
    ],
    ids=lambda value: repr(value) if isinstance(value, str) else None,
)
def test_topic_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected


@pytest.mark.parametrize(
    ("topic_filter", "expected"),
    [
        ("$share/collectors/quantrac/v1/raw/+", ("collectors", "quantrac/v1/raw/+")),
        ("$share/g/#", ("g", "#")),
        ("quantrac/v1/raw/+", (None, "quantrac/v1/raw/+")),
        ("share/g/x", (None, "share/g/x")),
        ("$SYS/broker", (None, "$SYS/broker")),
    ],
)
def test_split_shared(topic_filter: str, expected: tuple[str | None, str]) -> None:
    assert split_shared(topic_filter) == expected


# --- InProcessBus ---------------------------------------------------------------------------


async def _take(subscription: Subscription, count: int) -> list[bytes]:
    """The next ``count`` payloads; fails instead of hanging when fewer were delivered."""
    async with asyncio.timeout(1):
        return [(await subscription.get()).payload for _ in range(count)]


async def _take_all(subscription: Subscription) -> list[bytes]:
    return await _take(subscription, subscription.qsize())


async def test_fan_out_to_every_matching_plain_subscriber() -> None:
    async with InProcessBus() as bus:
        raw_a = bus.subscribe("quantrac/v1/raw/+")
        raw_b = bus.subscribe("quantrac/v1/raw/+")
        everything = bus.subscribe("quantrac/v1/#")
        kim_long = bus.subscribe("quantrac/v1/raw/kim_long")
        clean = bus.subscribe("quantrac/v1/clean/+")

        await bus.publish("quantrac/v1/raw/kim_long", b"1")
        await bus.publish("quantrac/v1/raw/phu_oc", b"2")
        await bus.publish("quantrac/v1/raw/kim_long", b"3")

        for subscription in (raw_a, raw_b, everything):
            assert subscription.qsize() == 3
            assert await _take(subscription, 3) == [b"1", b"2", b"3"]
        assert await _take(kim_long, 2) == [b"1", b"3"]
        assert kim_long.qsize() == 0
        assert clean.qsize() == 0

        assert bus.stats.published == 3
        assert bus.stats.delivered == 3 * 3 + 2
        assert bus.stats.dropped_incoming == 0


async def test_message_keeps_topic_and_payload() -> None:
    bus = InProcessBus()
    subscription = bus.subscribe("quantrac/v1/raw/+")
    await bus.publish("quantrac/v1/raw/hue_air", "Huế".encode())
    async with asyncio.timeout(1):
        message = await subscription.get()
    assert message == BusMessage("quantrac/v1/raw/hue_air", "Huế".encode())


async def test_publish_without_subscribers_is_counted_only() -> None:
    bus = InProcessBus()
    await bus.publish("quantrac/v1/raw/kim_long", b"x")
    assert (bus.stats.published, bus.stats.delivered, bus.stats.dropped_incoming) == (1, 0, 0)


async def test_async_iteration_yields_in_order() -> None:
    bus = InProcessBus()
    subscription = bus.subscribe("quantrac/v1/raw/+")
    for n in range(3):
        await bus.publish(f"quantrac/v1/raw/s{n}", str(n).encode())
    received: list[bytes] = []
    async with asyncio.timeout(1):
        async for message in subscription:
            received.append(message.payload)
            if len(received) == 3:
                break
    assert received == [b"0", b"1", b"2"]


@pytest.mark.parametrize("count", [1, 2, 9, 10, 101])
async def test_a_group_of_two_splits_messages_exactly_once(count: int) -> None:
    bus = InProcessBus()
    first = bus.subscribe("quantrac/v1/raw/+", group="collectors")
    second = bus.subscribe("quantrac/v1/raw/+", group="collectors")
    watcher = bus.subscribe("quantrac/v1/raw/+")  # a plain subscriber still sees everything
    archive = bus.subscribe("quantrac/v1/raw/+", group="archive")  # another group: all too

    sent = [f"{n}".encode() for n in range(count)]
    for payload in sent:
        await bus.publish("quantrac/v1/raw/kim_long", payload)
    await bus.publish("quantrac/v1/clean/kim_long", b"not for the group")

    got_first = await _take_all(first)
    got_second = await _take_all(second)
    assert sorted(got_first + got_second, key=int) == sent
    assert not set(got_first) & set(got_second)
    # Round robin: the two members differ by at most one message.
    assert abs(len(got_first) - len(got_second)) <= 1
    assert len(got_first) == (count + 1) // 2
    assert watcher.qsize() == count
    assert archive.qsize() == count
    assert bus.stats.delivered == 3 * count


async def test_groups_on_different_filters_are_separate() -> None:
    bus = InProcessBus()
    raw = [bus.subscribe("quantrac/v1/raw/+", group="g") for _ in range(2)]
    clean = bus.subscribe("quantrac/v1/clean/+", group="g")
    await bus.publish("quantrac/v1/clean/kim_long", b"c")
    await bus.publish("quantrac/v1/raw/kim_long", b"r")
    assert clean.qsize() == 1
    assert await _take(clean, 1) == [b"c"]
    assert sum(s.qsize() for s in raw) == 1


async def test_a_full_subscription_counts_its_drops(caplog: pytest.LogCaptureFixture) -> None:
    bus = InProcessBus()
    small = bus.subscribe("quantrac/v1/raw/+", maxsize=2)
    roomy = bus.subscribe("quantrac/v1/raw/+")

    with caplog.at_level(logging.WARNING, logger="gateway.bus"):
        for n in range(5):
            await bus.publish("quantrac/v1/raw/kim_long", str(n).encode())

    assert small.qsize() == 2
    assert small.dropped == 3
    assert roomy.qsize() == 5
    assert roomy.dropped == 0
    assert bus.stats.published == 5
    assert bus.stats.delivered == 2 + 5
    assert bus.stats.dropped_incoming == 3
    # The oldest messages are kept; the overflow is what is dropped.
    assert await _take(small, 2) == [b"0", b"1"]
    # The first drop is logged at WARNING (not every one of them).
    warnings = [r for r in caplog.records if "is full" in r.getMessage()]
    assert len(warnings) == 1
    assert "quantrac/v1/raw/+" in warnings[0].getMessage()


async def test_a_drained_subscription_accepts_again() -> None:
    bus = InProcessBus()
    small = bus.subscribe("quantrac/v1/raw/+", maxsize=1)
    await bus.publish("quantrac/v1/raw/a", b"1")
    await bus.publish("quantrac/v1/raw/a", b"2")
    assert await _take(small, 1) == [b"1"]
    await bus.publish("quantrac/v1/raw/a", b"3")
    assert await _take(small, 1) == [b"3"]
    assert small.dropped == 1
    assert bus.stats.dropped_incoming == 1


async def test_a_full_group_member_counts_drops() -> None:
    bus = InProcessBus()
    members = [bus.subscribe("quantrac/v1/raw/+", group="g", maxsize=1) for _ in range(2)]
    for n in range(6):
        await bus.publish("quantrac/v1/raw/a", str(n).encode())
    assert [m.qsize() for m in members] == [1, 1]
    assert sum(m.dropped for m in members) == 4
    assert bus.stats.dropped_incoming == 4
    assert bus.stats.delivered == 2
