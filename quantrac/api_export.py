"""Readings as the API hands them out in bulk: JSON pages, CSV for integrators, and the
officers' export (CSV or XLSX, one column per parameter, Vietnam local time). Pure, no I/O.

A month of one-minute readings is 43,200 rows: these renderers build the text directly
instead of through a model per reading, which costs several times more (docs/benchmarks.md,
"API and board").
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.model import VIETNAM_TZ, DeviceStatus, Quality, Reading
from gateway.parameters import registry

CSV_COLUMNS = ("station", "param", "ts", "value", "unit", "status", "quality", "reason")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


STATUS = {status: status.name.lower() for status in DeviceStatus}
QUALITY = {quality: quality.name.lower() for quality in Quality}


def iso_z(ts: datetime) -> str:
    """UTC ISO 8601 with a Z, as the API's models write it ("2026-11-20T03:00:00Z")."""
    if ts.tzinfo is not UTC:  # the stores give UTC already: the common case costs nothing
        ts = ts.astimezone(UTC)
    return ts.isoformat()[:-6] + "Z"


def _value(reading: Reading) -> float | None:
    return reading.value if math.isfinite(reading.value) else None


def dumps(body: Any) -> bytes:
    """JSON as the API writes it: times in UTC with a Z, NaN as null (orjson does both, and
    several times faster than the json module)."""
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)


def reading_row(reading: Reading) -> dict[str, Any]:
    """One reading as ``ReadingPublic`` has it, for ``dumps`` (which writes the time and a
    missing value)."""
    return {
        "param": reading.param,
        "value": reading.value,
        "unit": reading.unit,
        "ts": reading.ts,
        "status": STATUS[reading.status],
        "quality": QUALITY[reading.quality],
        "reason": reading.reason,
    }


def range_json(
    station: str,
    param: str,
    start: datetime,
    end: datetime,
    readings: Sequence[Reading],
    *,
    truncated: bool,
    next_url: str | None,
) -> bytes:
    """A page of one series, exactly as ``RangePublic`` (the OpenAPI's schema) has it."""
    body = {"station": station, "param": param, "start": start, "end": end,
            "readings": [reading_row(r) for r in readings], "truncated": truncated,
            "next": next_url}  # fmt: skip
    return dumps(body)


def readings_csv(readings: Iterable[Reading]) -> str:
    """Long format, UTC, one reading a line: what an integrator loads into a table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in readings:
        value = _value(r)
        writer.writerow(
            (r.station, r.param, iso_z(r.ts), "" if value is None else repr(value), r.unit,
             r.status.name.lower(), r.quality.name.lower(), r.reason)
        )  # fmt: skip
    return out.getvalue()


def column_title(param: str, unit: str) -> str:
    """The column an officer reads: "Mực nước (m)"; a derived series keeps its name."""
    known = registry()
    label = known[param].label if param in known else param
    return f"{label} ({unit})" if unit and unit != "bool" else label


def wide_table(
    series: Mapping[str, Sequence[Reading]],
) -> tuple[list[str], list[list[Any]]]:
    """One row per time (Vietnam local), one column per parameter; a value flagged by QC is
    followed by its flag in the next column, so a report never shows a bad value as good."""
    params = list(series)
    units = {p: next((r.unit for r in series[p]), "") for p in params}
    header = ["Thời gian (giờ Việt Nam)"]
    for param in params:
        header += [column_title(param, units[param]), f"{param}: chất lượng"]
    by_time: dict[datetime, list[Any]] = {}
    for column, param in enumerate(params):
        for reading in series[param]:
            row = by_time.setdefault(reading.ts, [None] * (2 * len(params)))
            row[2 * column] = _value(reading)
            quality = reading.quality.name.lower()
            row[2 * column + 1] = quality if not reading.reason else f"{quality}: {reading.reason}"
    rows = [
        [ts.astimezone(VIETNAM_TZ).replace(tzinfo=None), *values]
        for ts, values in sorted(by_time.items())
    ]
    return header, rows


def table_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a byte-order mark: Excel then reads the Vietnamese letters right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [
                cell.strftime("%Y-%m-%d %H:%M:%S") if isinstance(cell, datetime) else
                ("" if cell is None else cell)
                for cell in row
            ]
        )  # fmt: skip
    return out.getvalue().encode("utf-8-sig")


def table_xlsx(title: str, notes: Sequence[str], header: Sequence[str],
               rows: Iterable[Sequence[Any]]) -> bytes:  # fmt: skip
    """An XLSX workbook: the title and notes (station, range, source) above the table."""
    from openpyxl import Workbook  # imported here: only exports need it

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Số liệu")
    sheet.append([title])
    for note in notes:
        sheet.append([note])
    sheet.append([])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
