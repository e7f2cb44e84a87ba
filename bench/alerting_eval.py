"""The alerting benchmark, part 1: rule evaluation per clean batch, in a child process so that its
RSS is the rules' alone (bench.alerting_latency explains the method)."""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import Connection

from alerting.rules import Evaluator, parse_rules
from alerting.rules.series import RATE_POINTS
from bench.alerting_workload import (
    PARAMS,
    T0,
    TARGET_BATCH_S,
    bench_rules,
    bench_stations,
    peak_rss_mb,
    percentile,
    rss_now_mb,
    station_batch,
    station_ids,
)
from gateway.model import Quality, Reading, ReadingBatch
from gateway.wire import clean_topic, decode_batch, encode_batch

# -- 1. evaluation -------------------------------------------------------------------------------


@dataclass
class EvalReport:
    rules: int
    slots: int
    build_s: float
    history_readings: int
    history_s: float
    rss_start_mb: float
    rss_built_mb: float
    rss_history_mb: float
    peak_rss_mb: float
    steady: list[float]  # seconds per batch, values under the levels
    crossing: list[float]  # one reading of the batch changes level
    decode: list[float]  # baseline: decode_batch of the same clean batch
    no_rules: list[float]  # a batch of a station without rules
    signals: int


def evaluation(series: int, rules: int, rounds: int, history_min: int) -> EvalReport:
    rss_start = rss_now_mb()
    started = time.perf_counter()
    stations = bench_stations(series)
    evaluator = Evaluator(parse_rules(bench_rules(series, rules)), stations)
    build_s = time.perf_counter() - started
    rss_built = rss_now_mb()
    sids = station_ids(series)
    per_station = {sid: min(len(PARAMS), series - i * len(PARAMS)) for i, sid in enumerate(sids)}
    good = Quality.GOOD
    # An hour of history at one reading a minute: every rate window is full, as in service.
    started = time.perf_counter()
    history = 0
    for minute in range(history_min):
        ts = T0 + timedelta(minutes=minute)
        for i, sid in enumerate(sids):
            batch = station_batch(sid, i, ts, minute * 60.0, good, per_station[sid])
            evaluator.on_batch(batch)
            history += len(batch)
    history_s = time.perf_counter() - started
    rss_history = rss_now_mb()

    rng = random.Random(7)
    steady: list[float] = []
    crossing: list[float] = []
    decode: list[float] = []
    no_rules: list[float] = []
    signals = 0
    order = list(enumerate(sids))
    for minute in range(history_min, history_min + rounds):
        ts = T0 + timedelta(minutes=minute)
        t_s = minute * 60.0
        rng.shuffle(order)
        for i, sid in order:
            batch = station_batch(sid, i, ts, t_s, good, per_station[sid])
            # In every fourth round a station's COD reading crosses its first level, and in the
            # next it falls back: each is a level change (a Signal with its facts).
            crosses = minute % 4 == 1 and "cod" in {r.param for r in batch}
            if crosses:
                batch = [
                    Reading(r.station, r.param, 35.0 if r.param == "cod" else r.value, r.unit,
                            r.ts, quality=good)
                    for r in batch
                ]  # fmt: skip
            payload = encode_batch(ReadingBatch("collector", minute, sid, tuple(batch), ts))
            topic = clean_topic(sid)
            t = time.perf_counter()
            out = evaluator.on_batch(batch)
            elapsed = time.perf_counter() - t
            signals += len(out)
            (crossing if out else steady).append(elapsed)
            t = time.perf_counter()
            decode_batch(payload, topic=topic)
            decode.append(time.perf_counter() - t)
            foreign = [
                Reading("no_rules", r.param, r.value, r.unit, r.ts, quality=good) for r in batch
            ]
            t = time.perf_counter()
            evaluator.on_batch(foreign)
            no_rules.append(time.perf_counter() - t)
    return EvalReport(
        rules=rules,
        slots=len(evaluator),
        build_s=build_s,
        history_readings=history,
        history_s=history_s,
        rss_start_mb=rss_start,
        rss_built_mb=rss_built,
        rss_history_mb=rss_history,
        peak_rss_mb=peak_rss_mb(),
        steady=steady,
        crossing=crossing,
        decode=decode,
        no_rules=no_rules,
        signals=signals,
    )


def evaluation_process(conn: Connection, series: int, rules: int, rounds: int) -> None:
    conn.send(evaluation(series, rules, rounds, history_min=60))
    conn.close()


def us(values: Sequence[float], q: float | None = None) -> float:
    if q is None:
        return statistics.median(values) * 1e6
    return percentile(values, q) * 1e6


def print_evaluation(report: EvalReport, load: float, series: int) -> None:
    print(
        f"\n1. Evaluation: {report.rules:,} threshold rules over {series:,} series "
        f"(+ the probes' flood rule: {report.slots:,} slots), built in {report.build_s:.1f} s"
    )
    print(
        f"   history: {report.history_readings:,} readings (an hour at 1/min) in "
        f"{report.history_s:.1f} s = {report.history_s / report.history_readings * 1e6:.1f} µs "
        "a reading"
    )
    rows = [
        ("batch, values under the levels", report.steady),
        ("batch with one level change", report.crossing),
        ("baseline: decode_batch (JSON)", report.decode),
        ("batch of a station without rules", report.no_rules),
    ]
    for name, values in rows:
        if not values:
            continue
        print(
            f"   {name:34} n={len(values):5d}  median {us(values):7.1f} µs  p99 "
            f"{us(values, 0.99):7.1f} µs  max {us(values, 1.0):8.1f} µs  "
            f"({us(values) / 10:.1f} µs a reading)"
        )
    base = statistics.median(report.decode)
    all_batches = report.steady + report.crossing
    ratios = ", ".join(
        f"{name} {statistics.median(values) / base:.2f}"
        for name, values in (("steady", report.steady), ("with a level change", report.crossing))
        if values
    )
    print(f"   ratio to the decode baseline (medians): {ratios}; signals built: {report.signals:,}")
    window_points = report.history_readings
    per_point = (report.rss_history_mb - report.rss_built_mb) * 2**20 / window_points
    interval_s = math.ceil(series / len(PARAMS)) * len(PARAMS) / load if load else 60.0
    # A rate window keeps at most RATE_POINTS points (alerting.rules.series), whatever the rate.
    hour_points = series * min(3600 / max(interval_s, 1e-9), RATE_POINTS)
    print(
        f"   RSS: {report.rss_start_mb:.0f} MB before, {report.rss_built_mb:.0f} MB with the "
        f"rules, {report.rss_history_mb:.0f} MB with an hour of history "
        f"({per_point:.0f} bytes a point of the rate windows); peak {report.peak_rss_mb:.0f} MB"
    )
    print(
        f"   (at this bench's cadence, a reading per series every {interval_s:.1f} s, an hour "
        f"of rate windows, at most {RATE_POINTS} points each, holds {hour_points / 1e6:.1f} M "
        "points ≈ "
        f"{report.rss_built_mb + hour_points * per_point / 2**20:,.0f} MB)"
    )
    print(
        f"   p99 of all {len(all_batches):,} batches: {us(all_batches, 0.99):.1f} µs "
        f"(target < {TARGET_BATCH_S * 1e6:.0f} µs)"
    )
