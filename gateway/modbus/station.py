"""A Modbus station: plan the reads of a profile, read them through the hub, decode to Readings."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.config import StationConfig
from gateway.modbus.hub import ModbusHub
from gateway.model import DeviceStatus, Reading
from gateway.profiles import DeviceProfile, RegisterTable
from gateway.registers import decode, decode_bits, decode_string, scale_value

MAX_REGISTERS_PER_READ = 125  # Modbus limit for function codes 3 and 4


@dataclass(frozen=True, slots=True)
class ReadBlock:
    table: RegisterTable
    address: int
    count: int


def plan_reads(
    profile: DeviceProfile,
    *,
    fill_gap: int = 0,
    max_count: int = MAX_REGISTERS_PER_READ,
    with_info: bool = False,
) -> list[ReadBlock]:
    """Merge the profile's registers into as few reads as possible.

    Registers closer than ``fill_gap`` unused addresses are read together; a block never
    exceeds ``max_count`` registers.
    """
    spans: dict[RegisterTable, list[tuple[int, int]]] = {"holding": [], "input": []}
    for spec in profile.registers:
        spans[spec.table].append((spec.address, spec.address + spec.count))
    if profile.status is not None:
        spans[profile.status.table].append((profile.status.address, profile.status.address + 1))
    if with_info:
        for info in profile.info:
            spans[info.table].append((info.address, info.address + info.count))
    blocks = []
    for table, ranges in spans.items():
        ranges.sort()
        start = end = -1
        for low, high in ranges:
            if start >= 0 and low - end <= fill_gap and max(end, high) - start <= max_count:
                end = max(end, high)
                continue
            if start >= 0:
                blocks.append(ReadBlock(table, start, end - start))
            start, end = low, high
        if start >= 0:
            blocks.append(ReadBlock(table, start, end - start))
    return blocks


def decode_station(
    station: str,
    profile: DeviceProfile,
    words: Mapping[tuple[RegisterTable, int], int],
    ts: datetime,
) -> list[Reading]:
    """Turn the registers read from a device into Readings (pure; tested with tables)."""
    status = DeviceStatus.MEASURING
    if profile.status is not None:
        status = profile.status.status_of(words[(profile.status.table, profile.status.address)])
    readings = []
    for spec in profile.registers:
        raw_words = [words[(spec.table, spec.address + i)] for i in range(spec.count)]
        byte_order, word_order = profile.orders(spec)
        raw = decode(raw_words, spec.type, byte_order, word_order)
        if spec.bits is not None:
            raw = decode_bits(int(raw), *spec.bits)
        reading_status = status
        if raw in spec.sentinels or math.isnan(raw):
            # The device's "no measurement" value: keep the reading (the gap is information)
            # but never as a number anyone could plot or alarm on.
            raw, reading_status = math.nan, DeviceStatus.ERROR
        readings.append(
            Reading(
                station=station,
                param=spec.param,
                value=scale_value(raw, spec.scale, spec.offset),
                unit=spec.unit,
                ts=ts,
                status=reading_status,
            )
        )
    return readings


class ModbusStation:
    """The polled driver of one Modbus station: ``read`` returns its readings, nothing else."""

    def __init__(self, config: StationConfig, profile: DeviceProfile, hub: ModbusHub) -> None:
        """``profile`` is the station's effective profile (its overrides applied)."""
        self.config = config
        self.profile = profile
        self.hub = hub
        self.source = config.modbus
        self.blocks = plan_reads(profile, fill_gap=self.source.fill_gap)

    @property
    def station_id(self) -> str:
        return self.config.id

    @property
    def interval_s(self) -> float:
        return self.source.interval_s

    async def read_words(
        self, blocks: list[ReadBlock] | None = None
    ) -> dict[tuple[RegisterTable, int], int]:
        source = self.source
        words: dict[tuple[RegisterTable, int], int] = {}
        for block in blocks if blocks is not None else self.blocks:
            values = await self.hub.read(
                source.unit,
                block.table,
                block.address,
                block.count,
                timeout_s=source.timeout_s,
                retries=source.retries,
            )
            for offset, value in enumerate(values):
                words[(block.table, block.address + offset)] = value
        return words

    async def read(self, ts: datetime) -> list[Reading]:
        return decode_station(self.config.id, self.profile, await self.read_words(), ts)

    async def read_info(self) -> dict[str, str]:
        """The device's identity texts (model, serial number), for the technician's probe."""
        if not self.profile.info:
            return {}
        blocks = [ReadBlock(info.table, info.address, info.count) for info in self.profile.info]
        words = await self.read_words(blocks)
        return {
            info.name: decode_string(
                [words[(info.table, info.address + i)] for i in range(info.count)],
                self.profile.byte_order,
            )
            for info in self.profile.info
        }
