"""VN_WQI, Decision 1460/QĐ-TCMT (12 Nov 2019): sub-indices q, the groups I–V, aggregation.

Units are mg/L unless noted: pesticides in µg/L, Coliform and E. coli in MPN/100 mL, pH in pH
units, DO in mg/L (turned into % saturation with the water temperature). Intermediate values are
never rounded; the final WQI is rounded half up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from itertools import pairwise
from types import MappingProxyType

from collector.indices.common import Category, is_missing, round_half_up


class WqiGroup(IntEnum):
    I = 1  # pH  # noqa: E741 - the decision's own group numbering
    II = 2  # pesticides
    III = 3  # metals
    IV = 4  # organics and nutrients
    V = 5  # microbiology


class WqiParam(StrEnum):
    """The decision's parameters; names follow gateway/parameters.yaml where it has them."""

    PH = "ph"
    ALDRIN = "aldrin"
    BHC = "bhc"
    DIELDRIN = "dieldrin"
    DDTS = "ddts"
    HEPTACHLOR = "heptachlor"  # heptachlor & heptachlor epoxide
    AS = "as"
    CD = "cd"
    PB = "pb"
    CR6 = "cr6"
    CU = "cu"
    ZN = "zn"
    HG = "hg"
    DO = "do"
    BOD5 = "bod5"
    COD = "cod"
    TOC = "toc"
    N_NH4 = "n_nh4"
    N_NO3 = "n_no3"
    N_NO2 = "n_no2"
    P_PO4 = "p_po4"
    COLIFORM = "coliform"
    E_COLI = "e_coli"

    @property
    def group(self) -> WqiGroup:
        return _GROUPS[self]


_GROUPS: Mapping[WqiParam, WqiGroup] = MappingProxyType(
    {
        WqiParam.PH: WqiGroup.I,
        **dict.fromkeys(
            (WqiParam.ALDRIN, WqiParam.BHC, WqiParam.DIELDRIN, WqiParam.DDTS, WqiParam.HEPTACHLOR),
            WqiGroup.II,
        ),
        **dict.fromkeys(
            (
                WqiParam.AS,
                WqiParam.CD,
                WqiParam.PB,
                WqiParam.CR6,
                WqiParam.CU,
                WqiParam.ZN,
                WqiParam.HG,
            ),
            WqiGroup.III,
        ),
        **dict.fromkeys(
            (
                WqiParam.DO,
                WqiParam.BOD5,
                WqiParam.COD,
                WqiParam.TOC,
                WqiParam.N_NH4,
                WqiParam.N_NO3,
                WqiParam.N_NO2,
                WqiParam.P_PO4,
            ),
            WqiGroup.IV,
        ),
        **dict.fromkeys((WqiParam.COLIFORM, WqiParam.E_COLI), WqiGroup.V),
    }
)


@dataclass(frozen=True, slots=True)
class QCurve:
    """q by linear interpolation between nodes (x, q); a value on a node takes that node's q.

    Below the first node q is ``below``, above the last ``above``. This one shape holds every
    table of the decision: "≤ X" is a first node (X, 100) with 100 below; "< X" is a first node
    (X, 75) with 100 below (a step at X); "≥ Y" is a last node (Y, 10); "> Y" is a last node
    (Y, 25) with 10 above (a step after Y).
    """

    nodes: tuple[tuple[float, float], ...]
    below: float = 100.0
    above: float = 10.0

    def q(self, x: float) -> float:
        if x < self.nodes[0][0]:
            return self.below
        for (x0, q0), (x1, q1) in pairwise(self.nodes):
            if x0 <= x <= x1:
                if x == x1:
                    return q1
                return q0 + (q1 - q0) * (x - x0) / (x1 - x0)
        last_x, last_q = self.nodes[-1]
        return last_q if x == last_x else self.above


def _le_ge(q100: float, q75: float, q50: float, q25: float, q10: float) -> QCurve:
    """ "≤ q100 … ≥ q10": continuous at both ends."""
    return QCurve(((q100, 100), (q75, 75), (q50, 50), (q25, 25), (q10, 10)))


def _lt_ge(q75: float, q50: float, q25: float, q10: float) -> QCurve:
    """ "< X … ≥ q10": X itself already scores 75."""
    return QCurve(((q75, 75), (q50, 50), (q25, 25), (q10, 10)))


def _le_gt(q100: float, q75: float, q50: float, q25: float) -> QCurve:
    """ "≤ q100 … > q25": above q25 the score drops from 25 to 10."""
    return QCurve(((q100, 100), (q75, 75), (q50, 50), (q25, 25)))


def _limit(limit: float) -> QCurve:
    """At or below the limit 100, above it 10."""
    return QCurve(((limit, 100),))


# The decision's q tables (Decision 1460/QĐ-TCMT, tables checked against the signed text).
Q_CURVES: Mapping[WqiParam, QCurve] = MappingProxyType(
    {
        # Group II, µg/L.
        WqiParam.ALDRIN: _limit(0.1),
        WqiParam.BHC: _limit(0.02),
        WqiParam.DIELDRIN: _limit(0.1),
        WqiParam.DDTS: _limit(1.0),
        WqiParam.HEPTACHLOR: _limit(0.2),
        # Group III, mg/L.
        WqiParam.AS: _le_gt(0.01, 0.02, 0.05, 0.1),
        WqiParam.CD: _lt_ge(0.005, 0.008, 0.01, 0.1),
        WqiParam.PB: _lt_ge(0.02, 0.04, 0.05, 0.5),
        WqiParam.CR6: _le_ge(0.01, 0.02, 0.04, 0.05, 0.1),
        WqiParam.CU: _le_ge(0.1, 0.2, 0.5, 1.0, 2.0),
        WqiParam.ZN: _le_ge(0.5, 1.0, 1.5, 2.0, 3.0),
        WqiParam.HG: _lt_ge(0.001, 0.0015, 0.002, 0.01),
        # Group IV, mg/L (DO is by % saturation, below).
        WqiParam.BOD5: _le_ge(4, 6, 15, 25, 50),
        WqiParam.COD: _le_ge(10, 15, 30, 50, 150),
        WqiParam.TOC: _le_ge(4, 6, 15, 25, 50),
        WqiParam.N_NH4: _lt_ge(0.3, 0.6, 0.9, 5),
        WqiParam.N_NO3: _le_gt(2, 5, 10, 15),
        WqiParam.N_NO2: _limit(0.05),
        WqiParam.P_PO4: _le_ge(0.1, 0.2, 0.3, 0.5, 4),
        # Group V, MPN/100 mL.
        WqiParam.COLIFORM: _le_gt(2500, 5000, 7500, 10000),
        WqiParam.E_COLI: _le_gt(20, 50, 100, 200),
    }
)

# pH: < 5.5 → 10; 5.5 → 50 rising to 6 → 100; 6–8.5 → 100; 8.5 → 100 falling to 9 → 50; > 9 → 10.
PH_CURVE = QCurve(((5.5, 50), (6.0, 100), (8.5, 100), (9.0, 50)), below=10.0, above=10.0)

# DO in % saturation: 20/50/75/88 % → 25/50/75/100, 112/125/150/200 % → 100/75/50/25; outside
# 20…200 % → 10.
DO_CURVE = QCurve(
    ((20, 25), (50, 50), (75, 75), (88, 100), (112, 100), (125, 75), (150, 50), (200, 25)),
    below=10.0,
    above=10.0,
)


def do_saturation(water_temp_c: float) -> float:
    """Saturated DO (mg/L) at a water temperature, the decision's cubic in T (°C)."""
    t = water_temp_c
    return 14.652 - 0.41022 * t + 0.0079910 * t**2 - 0.000077774 * t**3


def do_percent_saturation(do_mg_l: float, water_temp_c: float) -> float:
    """DO% = DO / DO_sat · 100."""
    return do_mg_l / do_saturation(water_temp_c) * 100


def wqi_sub_index(
    param: WqiParam, value: float | None, water_temp_c: float | None = None
) -> float | None:
    """q of one parameter; None for a missing or negative value, or DO without a temperature."""
    if value is None or is_missing(value) or (param is not WqiParam.PH and value < 0):
        return None
    if param is WqiParam.PH:
        return PH_CURVE.q(value)
    if param is WqiParam.DO:
        if water_temp_c is None or is_missing(water_temp_c):
            return None
        return DO_CURVE.q(do_percent_saturation(value, water_temp_c))
    return Q_CURVES[param].q(value)


class WqiFormula(StrEnum):
    GENERAL = "general"  # [mean q_IV · mean q_V]^(1/2): the default
    ORGANIC = "organic"  # [(mean q_IV)² · mean q_V]^(1/3): where organic pollution matters


WQI_CATEGORIES: tuple[Category, ...] = (
    Category(91, 100, "Rất tốt", "blue", (51, 51, 255)),
    Category(76, 90, "Tốt", "green", (0, 228, 0)),
    Category(51, 75, "Trung bình", "yellow", (255, 255, 0)),
    Category(26, 50, "Xấu", "orange", (255, 126, 0)),
    Category(10, 25, "Kém", "red", (255, 0, 0)),
    Category(None, 9, "Ô nhiễm rất nặng", "maroon", (126, 0, 35)),
)


def wqi_category(value: int) -> Category:
    """The category of a (rounded) WQI."""
    if not 0 <= value <= 100:
        raise ValueError(f"WQI {value} is outside 0…100")
    for category in WQI_CATEGORIES:
        if category.contains(value):
            return category
    raise AssertionError("the WQI categories cover 0…100")  # pragma: no cover


MIN_GROUPS = 3
MIN_GROUP_IV_PARAMS = 3


@dataclass(frozen=True, slots=True)
class WqiResult:
    value: int | None
    unrounded: float | None = None
    sub_indices: Mapping[WqiParam, float] = field(default_factory=dict)
    missing: Mapping[WqiParam, str] = field(default_factory=dict)  # given, but unusable
    formula: WqiFormula = WqiFormula.GENERAL
    reason: str | None = None  # why value is None

    @property
    def groups(self) -> frozenset[WqiGroup]:
        return frozenset(p.group for p in self.sub_indices)

    @property
    def category(self) -> Category | None:
        return None if self.value is None else wqi_category(self.value)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _geometric_mean(values: list[float]) -> float:
    return math.prod(values) ** (1 / len(values))


def vn_wqi(
    values: Mapping[WqiParam, float | None],
    water_temp_c: float | None = None,
    formula: WqiFormula = WqiFormula.GENERAL,
) -> WqiResult:
    """VN_WQI of one sample (or one averaging period of an automatic station).

    WQI = (q_I/100) · (Π q_II)^(1/n)/100 · (Π q_III)^(1/m)/100 · [mean q_IV · mean q_V]^(1/2).
    Without group V the bracket is mean q_IV; a missing group I, II or III is a factor 1.
    Minimum data (section 2.1.b): 3 of the 5 groups, group IV among them with 3 parameters.
    """
    sub_indices: dict[WqiParam, float] = {}
    missing: dict[WqiParam, str] = {}
    for param in WqiParam:
        if param not in values:
            continue
        q = wqi_sub_index(param, values[param], water_temp_c)
        if q is not None:
            sub_indices[param] = q
        elif (
            param is WqiParam.DO
            and not is_missing(values[param])
            and (water_temp_c is None or is_missing(water_temp_c))
        ):
            missing[param] = "DO needs the water temperature for its % saturation"
        else:
            missing[param] = "missing or negative value"
    by_group: dict[WqiGroup, list[float]] = {}
    for param, q in sub_indices.items():
        by_group.setdefault(param.group, []).append(q)
    reason = _not_enough(by_group)
    if reason is not None:
        return WqiResult(None, None, sub_indices, missing, formula, reason)
    factor = 1.0
    if WqiGroup.I in by_group:
        factor *= by_group[WqiGroup.I][0] / 100
    for group in (WqiGroup.II, WqiGroup.III):
        if group in by_group:
            factor *= _geometric_mean(by_group[group]) / 100
    mean_iv = _mean(by_group[WqiGroup.IV])
    if WqiGroup.V not in by_group:
        bracket = mean_iv
    elif formula is WqiFormula.ORGANIC:
        bracket = (mean_iv**2 * _mean(by_group[WqiGroup.V])) ** (1 / 3)
    else:
        bracket = (mean_iv * _mean(by_group[WqiGroup.V])) ** 0.5
    unrounded = factor * bracket
    return WqiResult(round_half_up(unrounded), unrounded, sub_indices, missing, formula)


def _not_enough(by_group: Mapping[WqiGroup, list[float]]) -> str | None:
    groups = sorted(by_group)
    present = ", ".join(g.name for g in groups) or "none"
    if len(groups) < MIN_GROUPS:
        return f"{len(groups)} parameter groups ({present}); VN_WQI needs {MIN_GROUPS} of the 5"
    n_iv = len(by_group.get(WqiGroup.IV, []))
    if n_iv < MIN_GROUP_IV_PARAMS:
        return (
            f"group IV has {n_iv} parameters; VN_WQI needs group IV with at least "
            f"{MIN_GROUP_IV_PARAMS}"
        )
    return None
