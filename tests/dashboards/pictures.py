"""Pictures of the boards for docs/dashboards.md, drawn with matplotlib from their own queries.

Grafana cannot run here, so each panel is drawn from what its queries return (run as Grafana
would run them, quantrac.dashboards.execute) at the position its gridPos gives it: lines with the
panel's thresholds as lines or bands, last values as coloured tiles, a state timeline as bars,
the map as the stations at their coordinates. It shows what each board says, not Grafana's look.

    python -m tests.dashboards.pictures      # docs/img/dashboards/*.png, about 20 s

(starts influxd, loads the flood-and-smog replay through the real collector, draws).
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.gridspec import GridSpec
from matplotlib.patches import Rectangle

from quantrac.dashboards.execute import Answer, Series, Stores, run_target, store_targets
from quantrac.dashboards.grafana import TimeRange

ZONE = "Asia/Ho_Chi_Minh"
ROW_INCHES = 0.42  # one grid row
WIDTH_INCHES = 16.0


def _steps(panel: dict[str, Any]) -> list[tuple[float | None, str]]:
    config = (panel.get("fieldConfig") or {}).get("defaults", {}).get("thresholds") or {}
    return [(s.get("value"), s.get("color", "#888888")) for s in config.get("steps", [])]


def _colour_of(value: float, steps: Sequence[tuple[float | None, str]]) -> str:
    colour = "#5794F2"
    for threshold, step_colour in steps:
        if threshold is None or value >= threshold:
            colour = step_colour
    return "#DDDDDD" if colour == "transparent" else colour


def _names(panel: dict[str, Any]) -> dict[str, str]:
    """Station id → label, from the panel's own rename transformations."""
    out = {}
    for transformation in panel.get("transformations") or []:
        if transformation.get("id") == "renameByRegex":
            options = transformation["options"]
            station = options["regex"].removeprefix("^").removesuffix("(.*)$")
            out[station] = options["renamePattern"].removesuffix("$1")
    return out


def _label(panel: dict[str, Any], answer: Answer, labels: dict[str, str]) -> str:
    names = _names(panel)
    station = labels.get("station", "")
    name = names.get(station, station)
    alias = next(
        (
            t.get("alias") or t.get("legendFormat") or ""
            for t in panel["targets"]
            if t.get("refId") == answer.ref
        ),
        "",
    )
    suffix = alias.split(" · ", 1)[1] if " · " in alias else ""
    return f"{name} · {suffix}" if suffix else name


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _day_number(ms: int) -> float:
    """matplotlib's date axis: days since 1970-01-01 (its default epoch)."""
    return ms / 86_400_000


def _local_dates(ax: Axes) -> None:
    ax.xaxis_date(tz=ZONE)
    formatter = mdates.DateFormatter("%d/%m %Hh", tz=ZONE)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(formatter)
    ax.tick_params(labelsize=7)


def _time_series(ax: Axes, panel: dict[str, Any], answers: list[Answer]) -> None:
    steps = _steps(panel)
    style = (
        ((panel.get("fieldConfig") or {}).get("defaults", {}).get("custom") or {})
        .get("thresholdsStyle", {})
        .get("mode", "off")
    )
    bars = ((panel.get("fieldConfig") or {}).get("defaults", {}).get("custom") or {}).get(
        "drawStyle"
    ) == "bars"
    index = -1
    for answer in answers:
        for series in answer.series:
            points = [(p[0], p[1]) for p in series.points if p[1] is not None]
            if not points:
                continue
            times = [_day_number(t) for t, _ in points]
            values = [v for _, v in points]
            label = _label(panel, answer, dict(series.labels))
            if bars and len(times) < 5:  # a few days: one bar per station side by side
                count = sum(len(a.series) for a in answers)
                width = 0.8 / count
                shift = (index := index + 1) * width - 0.4
                shifted = [x + shift for x in times]
                ax.bar(shifted, values, width=width, label=label, align="edge")
            elif bars:
                ax.bar(times, values, width=0.03, label=label, alpha=0.8)
            else:
                ax.plot(times, values, label=label, linewidth=1.4)
    if style in ("area", "line+area") and steps:
        low, high = ax.get_ylim()
        bounds = [low, *(v if v is not None else low for v, _ in steps[1:]), high]
        for (_, colour), bottom, top in zip(steps, bounds, bounds[1:], strict=False):
            if colour != "transparent" and top > bottom:
                ax.axhspan(bottom, top, color=colour, alpha=0.15, linewidth=0)
        ax.set_ylim(low, high)
    if style in ("line", "dashed", "line+area"):
        for value, colour in steps[1:]:
            if value is not None:
                ax.axhline(
                    value, color=colour, linestyle="--" if style == "dashed" else "-", linewidth=1
                )
    _local_dates(ax)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")


def _override_steps(panel: dict[str, Any]) -> dict[str, list[tuple[float | None, str]]]:
    """A series' own thresholds (byName overrides: a gauge's BĐ levels)."""
    out = {}
    for override in (panel.get("fieldConfig") or {}).get("overrides") or []:
        for prop in override.get("properties") or []:
            if prop.get("id") == "thresholds":
                steps = [(s.get("value"), s["color"]) for s in prop["value"]["steps"]]
                out[str(override["matcher"]["options"])] = steps
    return out


def _mapped(panel: dict[str, Any], value: float) -> str | None:
    """The text a value mapping gives (a range "cấp 8", a value "Báo động II")."""
    for mapping in (panel.get("fieldConfig") or {}).get("defaults", {}).get("mappings") or []:
        options = mapping.get("options") or {}
        if mapping.get("type") == "range" and options["from"] <= value <= options["to"]:
            return str(options["result"]["text"])
        if mapping.get("type") == "value":
            key = f"{value:g}"
            if key in options:
                return str(options[key]["text"])
    return None


def _tiles(ax: Axes, panel: dict[str, Any], answers: list[Answer]) -> None:
    steps = _steps(panel)
    own = _override_steps(panel)
    tiles = []
    for answer in answers:
        for series in answer.series:
            if series.values:
                tiles.append((_label(panel, answer, dict(series.labels)), series.values[-1]))
    ax.set_axis_off()
    if not tiles:
        ax.text(0.5, 0.5, "Không có dữ liệu", ha="center", color="#888888", transform=ax.transAxes)
        return
    width = 1 / len(tiles)
    unit = (panel.get("fieldConfig") or {}).get("defaults", {}).get("unit", "")
    suffix = {"lengthm": " m", "lengthmm": " mm", "percent": " %", "velocityms": " m/s"}.get(
        unit, ""
    )
    for index, (name, value) in enumerate(tiles):
        colour = _colour_of(value, own.get(name, steps)) if steps or name in own else "#5794F2"
        ax.add_patch(
            Rectangle(
                (index * width + 0.01, 0.05),
                width - 0.02,
                0.8,
                color=colour,
                transform=ax.transAxes,
            )
        )
        text = f"{value:.2f}".rstrip("0").rstrip(".") + suffix
        mapped = _mapped(panel, value)
        text = f"{mapped} ({text})" if mapped else text
        ax.text(
            index * width + width / 2,
            0.5,
            text,
            ha="center",
            va="center",
            fontsize=13,
            weight="bold",
            transform=ax.transAxes,
        )
        ax.text(
            index * width + width / 2,
            0.15,
            name,
            ha="center",
            va="center",
            fontsize=7,
            transform=ax.transAxes,
        )


def _bars(ax: Axes, panel: dict[str, Any], answers: list[Answer]) -> None:
    steps = _steps(panel)
    bars = [
        (_label(panel, answer, dict(series.labels)), series.values[-1])
        for answer in answers
        for series in answer.series
        if series.values
    ]
    names = [name for name, _ in bars]
    values = [value for _, value in bars]
    ax.barh(names, values, color=[_colour_of(v, steps) for v in values])
    for row, value in enumerate(values):
        ax.text(value, row, f" {value:.1f}", va="center", fontsize=7)
    ax.invert_yaxis()
    ax.tick_params(labelsize=7)


def _timeline(ax: Axes, panel: dict[str, Any], answers: list[Answer]) -> None:
    steps = _steps(panel)
    rows = [(series, answer) for answer in answers for series in answer.series]
    for row, (series, _) in enumerate(rows):
        points = [(ms, v) for ms, v in series.points if v is not None]
        for (t0, value), (t1, _) in itertools.pairwise(points):
            start, end = _day_number(t0), _day_number(t1)
            ax.broken_barh([(start, end - start)], (row - 0.4, 0.8), color=_colour_of(value, steps))
    labels = [_label(panel, answer, dict(series.labels)) for series, answer in rows]
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    _local_dates(ax)


def _map(ax: Axes, panel: dict[str, Any], answers: list[Answer]) -> None:
    [catalog] = [t for t in panel["targets"] if t.get("refId") == "CAT"]
    rows = list(csv.DictReader(io.StringIO(catalog["csvContent"])))
    values = {
        a.ref: {s.labels.get("station"): s.values[-1] for s in a.series if s.values}
        for a in answers
    }
    overrides = {
        o["matcher"]["options"]: o["properties"][0]["value"]["steps"]
        for o in panel["fieldConfig"]["overrides"]
    }
    for row in rows:
        station, lat, lon = row["station"], float(row["lat"]), float(row["lon"])
        seen = values.get("SEEN", {}).get(station)
        steps = [(s.get("value"), s["color"]) for s in overrides["online"]]
        ax.scatter(lon, lat, s=40, color=_colour_of(seen or 0.0, steps), zorder=2)
        for ref, field, marker in (("FLOOD", "flood_level", "s"), ("AQI", "vn_aqi_h", "o")):
            value = values.get(ref, {}).get(station)
            if value is not None:
                field_steps = [(s.get("value"), s["color"]) for s in overrides[field]]
                ax.scatter(
                    lon,
                    lat,
                    s=260,
                    marker=marker,
                    color=_colour_of(value, field_steps),
                    alpha=0.8,
                    zorder=1,
                )
        ax.annotate(
            row["name"],
            (lon, lat),
            textcoords="offset points",
            xytext=(0, 9),
            ha="center",
            fontsize=7,
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.2)
    ax.tick_params(labelsize=7)


def _last_seen_line(panel: dict[str, Any], series: Series) -> str:
    """InfluxQL gives the time of the last point, PromQL its value (flavours.last_seen)."""
    station = series.labels.get("station", "")
    ms = series.points[-1][0] if series.name not in ("Value", "") else int(series.values[-1])
    when = _when(ms).astimezone(ZoneInfo(ZONE)).strftime("%d/%m %H:%M")
    return f"{_names(panel).get(station, station)}: {when}"


def draw(board: dict[str, Any], stores: Stores, span: TimeRange, out: Path) -> Path:
    """One board as a PNG at ``out``."""
    panels = board["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    figure = plt.figure(figsize=(WIDTH_INCHES, rows * ROW_INCHES + 0.6))
    grid = GridSpec(rows, 24, figure=figure, hspace=2.2, wspace=0.8)
    figure.suptitle(
        f"{board['title']} — {board.get('description', '')}", fontsize=10, x=0.01, ha="left"
    )
    for panel in panels:
        pos = panel["gridPos"]
        ax = figure.add_subplot(
            grid[pos["y"] : pos["y"] + pos["h"], pos["x"] : pos["x"] + pos["w"]]
        )
        ax.set_title(panel["title"], fontsize=9, loc="left")
        answers = [run_target(board, panel, t, stores, span) for t in store_targets(panel)]
        kind = panel["type"]
        if kind in ("timeseries",):
            _time_series(ax, panel, answers)
        elif kind == "stat":
            _tiles(ax, panel, answers)
        elif kind == "bargauge":
            _bars(ax, panel, answers)
        elif kind == "state-timeline":
            _timeline(ax, panel, answers)
        elif kind == "geomap":
            _map(ax, panel, answers)
        elif kind == "table":
            ax.set_axis_off()
            lines = [_last_seen_line(panel, s) for a in answers for s in a.series]
            ax.text(0, 1, "\n".join(lines), va="top", fontsize=7, transform=ax.transAxes)
        else:
            ax.set_axis_off()
            ax.text(
                0.5,
                0.5,
                "Sự cố (chú thích của dịch vụ cảnh báo)",
                ha="center",
                fontsize=8,
                transform=ax.transAxes,
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=80)
    plt.close(figure)
    return out


def main() -> None:
    from quantrac.dashboards.build import generate
    from quantrac.dashboards.catalog import catalog_of
    from tests.conftest import EXAMPLE_SITE, REPO
    from tests.dashboards.flood_and_smog import Replay
    from tests.dashboards.load import load, replay_site
    from tests.servers import Influxd

    root = Path(tempfile.mkdtemp())
    (root / "influxd").mkdir()
    influx = Influxd(root / "influxd")
    influx.start()
    try:
        site = replay_site(EXAMPLE_SITE, root / "site")
        replay = Replay.days_ago(2)
        (root / "data").mkdir()
        asyncio.run(load(site, replay, influx.store_url, root / "data")).close()
        files = generate(catalog_of(site), ["influxdb"])
        for name, text in sorted(files.items()):
            if name.endswith(".json"):
                slug = Path(name).stem
                # The province's board at the flood's height; the others over the whole replay.
                span = TimeRange(replay.start, replay.at(20 if slug == "toan-tinh" else 36))
                path = draw(
                    json.loads(text),
                    Stores(influx.url),
                    span,
                    REPO / "docs" / "img" / "dashboards" / f"{slug}.png",
                )
                print(path)
    finally:
        influx.stop()


if __name__ == "__main__":
    main()
