"""The registry of canonical parameters, read from ``parameters.yaml`` beside this module."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

_NOISE = re.compile(r"[\s_\-.,]")


def normalise_symbol(name: str) -> str:
    """Lower-case and drop the characters stations disagree on: "PM2,5" → "pm25"."""
    return _NOISE.sub("", name).lower()


class UnknownParameterError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class AmbiguousParameterError(UnknownParameterError):
    """A symbol two parameters list (TT10's "Temp": air_temp and water_temp) that the
    station's kind does not settle."""


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    unit: str
    kind: str
    low: float
    high: float
    label: str
    aliases: tuple[str, ...]
    # The physically possible range (``possible`` in parameters.yaml), wider than low…high.
    possible_low: float = float("-inf")
    possible_high: float = float("inf")

    def within_limits(self, value: float) -> bool:
        return self.low <= value <= self.high

    def is_possible(self, value: float) -> bool:
        """False for a value no sensor can give; NaN (a "no value") is possible."""
        return value != value or self.possible_low <= value <= self.possible_high


class ParameterRegistry:
    def __init__(self, parameters: list[Parameter]) -> None:
        self._by_name = {p.name: p for p in parameters}
        self._by_symbol: dict[str, list[Parameter]] = defaultdict(list)
        for parameter in parameters:
            symbols = {normalise_symbol(parameter.name)}
            symbols.update(normalise_symbol(a) for a in parameter.aliases)
            for symbol in symbols:
                self._by_symbol[symbol].append(parameter)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Any:
        return iter(self._by_name.values())

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownParameterError(f"{name!r} is not a canonical parameter") from None

    def lookup(self, symbol: str, kind: str | None = None) -> Parameter:
        """Resolve a name or alias; ``kind`` decides between homonyms (TT10's "Temp")."""
        candidates = self._by_symbol.get(normalise_symbol(symbol), [])
        exact = [p for p in candidates if p.name == symbol]
        if exact:
            return exact[0]
        if len(candidates) > 1 and kind is not None:
            candidates = [p for p in candidates if p.kind == kind] or candidates
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise UnknownParameterError(f"unknown parameter {symbol!r}")
        names = " and ".join(f"{p.name} ({p.kind})" for p in candidates)
        raise AmbiguousParameterError(
            f"parameter {symbol!r} is ambiguous: gateway/parameters.yaml lists it under {names};"
            " the station's kind decides"
        )

    def at_station(self, symbol: str, kind: str) -> Parameter:
        """A symbol as a station of this kind sends it, the same for every driver (TT10 files,
        MQTT messages): "Temp" and "RH" at an air station are the weather parameters (the
        registry files them under ``weather``), so an ambiguity the station's kind leaves is
        settled by ``weather``; one that remains is an :class:`AmbiguousParameterError`."""
        try:
            return self.lookup(symbol, kind)
        except UnknownParameterError as first:
            try:
                return self.lookup(symbol, "weather")
            except UnknownParameterError:
                raise first from None


def _parse(document: dict[str, Any]) -> list[Parameter]:
    parameters = []
    for name, spec in document.items():
        low, high = spec["limits"]
        possible_low, possible_high = spec["possible"]
        if not float(possible_low) <= float(low) <= float(high) <= float(possible_high):
            raise ValueError(f"parameter {name}: limits {low}…{high} exceed possible range")
        parameters.append(
            Parameter(
                name=name,
                unit=spec["unit"],
                kind=spec["kind"],
                low=float(low),
                high=float(high),
                label=spec.get("label", name),
                aliases=tuple(str(a) for a in spec.get("aliases", [])),
                possible_low=float(possible_low),
                possible_high=float(possible_high),
            )
        )
    return parameters


def impossible_value(
    station: str, param: str, value: float, parameters: ParameterRegistry | None = None
) -> str | None:
    """Why ``value`` cannot be a measurement of ``param`` (station and parameter named); None
    when it can.

    The one physical range check of the gateway, for every driver (Modbus, MQTT, TT10): such a
    value goes to the dead letter instead of being published as a "measuring" reading (issue 13:
    a 1e308 from an MQTT station reached the store). A parameter outside the registry has no
    range here; NaN is "no value", not an impossible one.
    """
    known = parameters or registry()
    if param not in known:
        return None
    found = known[param]
    if found.is_possible(value):
        return None
    return (
        f"station {station} param {param}: value {value:.6g} {found.unit} is outside the "
        f"possible range {found.possible_low:g} … {found.possible_high:g} {found.unit}"
    )


@cache
def registry() -> ParameterRegistry:
    text = resources.files("gateway").joinpath("parameters.yaml").read_text(encoding="utf-8")
    return ParameterRegistry(_parse(yaml.safe_load(text)))
