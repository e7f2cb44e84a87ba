"""VN_WQI (Decision 1460/QĐ-TCMT): q tables, pH, DO saturation, aggregation, groups, categories."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.indices.common import round_half_up
from collector.indices.wqi import (
    DO_CURVE,
    WqiFormula,
    WqiGroup,
    WqiParam,
    do_percent_saturation,
    do_saturation,
    vn_wqi,
    wqi_category,
    wqi_sub_index,
)

P = WqiParam

# (param, value, q): every node of the decision's table (docs/indices.md), the steps, and
# values between nodes.
Q_TABLE = [
    # BOD5 ≤4 | 6 | 15 | 25 | ≥50
    (P.BOD5, 0, 100),
    (P.BOD5, 4, 100),
    (P.BOD5, 5, 87.5),  # 100 − 25·(5−4)/(6−4)
    (P.BOD5, 6, 75),
    (P.BOD5, 10.5, 62.5),  # 75 − 25·4.5/9
    (P.BOD5, 15, 50),
    (P.BOD5, 25, 25),
    (P.BOD5, 37.5, 17.5),  # 25 − 15·12.5/25
    (P.BOD5, 50, 10),
    (P.BOD5, 80, 10),
    # COD ≤10 | 15 | 30 | 50 | ≥150
    (P.COD, 10, 100),
    (P.COD, 12.5, 87.5),
    (P.COD, 15, 75),
    (P.COD, 30, 50),
    (P.COD, 40, 37.5),
    (P.COD, 50, 25),
    (P.COD, 100, 17.5),
    (P.COD, 150, 10),
    (P.COD, 151, 10),
    # TOC as BOD5
    (P.TOC, 4, 100),
    (P.TOC, 6, 75),
    (P.TOC, 15, 50),
    (P.TOC, 25, 25),
    (P.TOC, 50, 10),
    # N-NH4 <0.3 | 0.3 | 0.6 | 0.9 | ≥5: 0.3 itself already scores 75 (a step)
    (P.N_NH4, 0.0, 100),
    (P.N_NH4, 0.299, 100),
    (P.N_NH4, 0.3, 75),
    (P.N_NH4, 0.45, 62.5),
    (P.N_NH4, 0.6, 50),
    (P.N_NH4, 0.9, 25),
    (P.N_NH4, 2.95, 17.5),  # 25 − 15·2.05/4.1
    (P.N_NH4, 5, 10),
    (P.N_NH4, 9, 10),
    # N-NO3 ≤2 | 5 | 10 | 15 | >15: above 15 the score drops from 25 to 10 (a step)
    (P.N_NO3, 2, 100),
    (P.N_NO3, 3.5, 87.5),
    (P.N_NO3, 5, 75),
    (P.N_NO3, 10, 50),
    (P.N_NO3, 15, 25),
    (P.N_NO3, 15.01, 10),
    # N-NO2 ≤0.05 | >0.05
    (P.N_NO2, 0.01, 100),
    (P.N_NO2, 0.05, 100),
    (P.N_NO2, 0.051, 10),
    # P-PO4 ≤0.1 | 0.2 | 0.3 | 0.5 | ≥4
    (P.P_PO4, 0.1, 100),
    (P.P_PO4, 0.2, 75),
    (P.P_PO4, 0.3, 50),
    (P.P_PO4, 0.5, 25),
    (P.P_PO4, 2.25, 17.5),  # 25 − 15·1.75/3.5
    (P.P_PO4, 4, 10),
    # Coliform ≤2500 | 5000 | 7500 | 10000 | >10000
    (P.COLIFORM, 2500, 100),
    (P.COLIFORM, 3750, 87.5),
    (P.COLIFORM, 5000, 75),
    (P.COLIFORM, 7500, 50),
    (P.COLIFORM, 10000, 25),
    (P.COLIFORM, 10001, 10),
    # E. coli ≤20 | 50 | 100 | 200 | >200
    (P.E_COLI, 20, 100),
    (P.E_COLI, 35, 87.5),
    (P.E_COLI, 50, 75),
    (P.E_COLI, 100, 50),
    (P.E_COLI, 200, 25),
    (P.E_COLI, 201, 10),
    # As ≤0.01 | 0.02 | 0.05 | 0.1 | >0.1
    (P.AS, 0.01, 100),
    (P.AS, 0.02, 75),
    (P.AS, 0.05, 50),
    (P.AS, 0.1, 25),
    (P.AS, 0.11, 10),
    # Cd <0.005 | 0.005 | 0.008 | 0.01 | ≥0.1
    (P.CD, 0.0049, 100),
    (P.CD, 0.005, 75),
    (P.CD, 0.008, 50),
    (P.CD, 0.01, 25),
    (P.CD, 0.1, 10),
    # Pb <0.02 | 0.02 | 0.04 | 0.05 | ≥0.5
    (P.PB, 0.019, 100),
    (P.PB, 0.02, 75),
    (P.PB, 0.03, 62.5),
    (P.PB, 0.04, 50),
    (P.PB, 0.05, 25),
    (P.PB, 0.5, 10),
    # Cr6+ ≤0.01 | 0.02 | 0.04 | 0.05 | ≥0.1
    (P.CR6, 0.01, 100),
    (P.CR6, 0.02, 75),
    (P.CR6, 0.04, 50),
    (P.CR6, 0.05, 25),
    (P.CR6, 0.1, 10),
    # Cu ≤0.1 | 0.2 | 0.5 | 1.0 | ≥2
    (P.CU, 0.1, 100),
    (P.CU, 0.2, 75),
    (P.CU, 0.5, 50),
    (P.CU, 1.0, 25),
    (P.CU, 1.5, 17.5),
    (P.CU, 2, 10),
    # Zn ≤0.5 | 1.0 | 1.5 | 2.0 | ≥3
    (P.ZN, 0.5, 100),
    (P.ZN, 1.0, 75),
    (P.ZN, 1.5, 50),
    (P.ZN, 2.0, 25),
    (P.ZN, 3, 10),
    # Hg <0.001 | 0.001 | 0.0015 | 0.002 | ≥0.01
    (P.HG, 0.0009, 100),
    (P.HG, 0.001, 75),
    (P.HG, 0.0015, 50),
    (P.HG, 0.002, 25),
    (P.HG, 0.01, 10),
    # Pesticides (µg/L): at or below the limit 100, above 10.
    (P.ALDRIN, 0.1, 100),
    (P.ALDRIN, 0.11, 10),
    (P.BHC, 0.02, 100),
    (P.BHC, 0.021, 10),
    (P.DIELDRIN, 0.1, 100),
    (P.DIELDRIN, 0.2, 10),
    (P.DDTS, 1.0, 100),
    (P.DDTS, 1.01, 10),
    (P.HEPTACHLOR, 0.2, 100),
    (P.HEPTACHLOR, 0.21, 10),
    # pH: <5.5 → 10; 5.5 → 50 … 6 → 100; 6–8.5 → 100; 8.5 → 100 … 9 → 50; >9 → 10.
    (P.PH, 5.49, 10),
    (P.PH, 5.5, 50),
    (P.PH, 5.75, 75),
    (P.PH, 6.0, 100),
    (P.PH, 7.2, 100),
    (P.PH, 8.5, 100),
    (P.PH, 8.75, 75),
    (P.PH, 9.0, 50),
    (P.PH, 9.01, 10),
]


@pytest.mark.parametrize(
    ("param", "value", "q"), Q_TABLE, ids=[f"{p}-{v:g}" for p, v, _ in Q_TABLE]
)
def test_q_table(param: WqiParam, value: float, q: float) -> None:
    assert wqi_sub_index(param, value) == pytest.approx(q)


@pytest.mark.parametrize("param", [p for p in WqiParam if p is not P.DO], ids=str)
def test_every_parameter_scores_10_far_above_its_table(param: WqiParam) -> None:
    assert wqi_sub_index(param, 1e6) == 10


@pytest.mark.parametrize("value", [None, math.nan, -0.1])
def test_missing_or_negative_value_has_no_q(value: float | None) -> None:
    assert wqi_sub_index(P.COD, value) is None


# DO: DO_sat = 14.652 − 0.41022·T + 0.0079910·T² − 0.000077774·T³.


@pytest.mark.parametrize(
    ("temp", "saturation"),
    [
        (0, 14.652),
        # 14.652 − 0.41022·25 + 0.0079910·625 − 0.000077774·15625
        # = 14.652 − 10.2555 + 4.994375 − 1.21521875 = 8.17565625
        (25, 8.17565625),
        # 14.652 − 12.3066 + 7.1919 − 2.0999 (0.000077774·27000 = 2.099898) = 7.437402
        (30, 7.437402),
    ],
)
def test_do_saturation_formula(temp: float, saturation: float) -> None:
    assert do_saturation(temp) == pytest.approx(saturation)


@pytest.mark.parametrize(
    ("percent", "q"),
    [
        (0, 10),
        (19.9, 10),
        (20, 25),
        (35, 37.5),
        (50, 50),
        (75, 75),
        (81.5, 87.5),
        (88, 100),
        (100, 100),
        (112, 100),
        (118.5, 87.5),
        (125, 75),
        (150, 50),
        (175, 37.5),
        (200, 25),
        (200.1, 10),
    ],
)
def test_do_q_by_percent_saturation(percent: float, q: float) -> None:
    assert DO_CURVE.q(percent) == pytest.approx(q)


@pytest.mark.parametrize(("percent", "q"), [(35, 37.5), (81.5, 87.5), (100, 100), (175, 37.5)])
def test_do_in_mg_l_goes_through_its_saturation(percent: float, q: float) -> None:
    # At 25 °C saturation is 8.17565625 mg/L; give DO as that share of it.
    do_mg_l = 8.17565625 * percent / 100
    assert do_percent_saturation(do_mg_l, 25) == pytest.approx(percent)
    assert wqi_sub_index(P.DO, do_mg_l, water_temp_c=25) == pytest.approx(q)


def test_do_without_water_temperature_has_no_q() -> None:
    assert wqi_sub_index(P.DO, 7.0) is None
    assert wqi_sub_index(P.DO, 7.0, water_temp_c=math.nan) is None


# Aggregation. A full sample with hand-computed q:
#   I   pH 8.75                                → q 75                 factor 0.75
#   II  BHC 0.05 µg/L (limit 0.02)            → q 10                 factor 10/100 = 0.1
#   III As 0.01 → 100, Pb 0.05 → 25           → (100·25)^(1/2) = 50  factor 0.5
#   IV  BOD5 6 → 75, COD 30 → 50, N-NH4 0.3 → 75, P-PO4 0.1 → 100    mean 300/4 = 75
#   V   Coliform 2500 → 100, E. coli 20 → 100                        mean 100
FULL: dict[WqiParam, float | None] = {
    P.PH: 8.75,
    P.BHC: 0.05,
    P.AS: 0.01,
    P.PB: 0.05,
    P.BOD5: 6,
    P.COD: 30,
    P.N_NH4: 0.3,
    P.P_PO4: 0.1,
    P.COLIFORM: 2500,
    P.E_COLI: 20,
}
SQRT_7500 = math.sqrt(75 * 100)  # 86.6025…


def without(group: WqiGroup) -> dict[WqiParam, float | None]:
    return {p: v for p, v in FULL.items() if p.group is not group}


def test_full_sample_general_formula() -> None:
    # 0.75 · 0.1 · 0.5 · (75 · 100)^(1/2) = 0.0375 · 86.6025 = 3.2476 → 3
    result = vn_wqi(FULL)
    assert result.unrounded == pytest.approx(0.0375 * SQRT_7500)
    assert result.value == 3
    assert result.groups == frozenset(WqiGroup)
    category = result.category
    assert category is not None
    assert category.name == "Ô nhiễm rất nặng"


def test_full_sample_organic_formula() -> None:
    # [(mean q_IV)² · mean q_V]^(1/3) = (75² · 100)^(1/3) = 562500^(1/3) = 82.548…
    result = vn_wqi(FULL, formula=WqiFormula.ORGANIC)
    assert result.unrounded == pytest.approx(0.0375 * 562500 ** (1 / 3))
    assert result.formula is WqiFormula.ORGANIC


@pytest.mark.parametrize(
    ("missing", "unrounded", "value"),
    [
        (WqiGroup.I, 0.1 * 0.5 * SQRT_7500, 4),  # factor 1 for pH: 4.330
        (WqiGroup.II, 0.75 * 0.5 * SQRT_7500, 32),  # factor 1 for pesticides: 32.476
        (WqiGroup.III, 0.75 * 0.1 * SQRT_7500, 6),  # factor 1 for metals: 6.495
        (WqiGroup.V, 0.75 * 0.1 * 0.5 * 75, 3),  # bracket = mean q_IV: 2.8125
    ],
    ids=["I", "II", "III", "V"],
)
def test_each_group_missing_in_turn(missing: WqiGroup, unrounded: float, value: int) -> None:
    result = vn_wqi(without(missing))
    assert result.unrounded == pytest.approx(unrounded)
    assert result.value == value
    assert missing not in result.groups


def test_without_group_iv_there_is_no_wqi() -> None:
    result = vn_wqi(without(WqiGroup.IV))
    assert result.value is None
    assert result.reason == "group IV has 0 parameters; VN_WQI needs group IV with at least 3"


def test_a_typical_automatic_station_gets_no_wqi() -> None:
    # pH, DO, COD, NH4: groups I and IV only — two groups, not the three the decision requires.
    result = vn_wqi({P.PH: 7.0, P.DO: 7.0, P.COD: 12, P.N_NH4: 0.2}, water_temp_c=28)
    assert result.value is None
    assert result.reason == "2 parameter groups (I, IV); VN_WQI needs 3 of the 5"
    assert len(result.sub_indices) == 4  # the sub-indices are still reported


def test_group_iv_needs_three_parameters() -> None:
    sample = {P.PH: 7.0, P.COD: 12, P.N_NH4: 0.2, P.COLIFORM: 100}
    result = vn_wqi(sample)
    assert result.value is None
    assert result.reason is not None
    assert "group IV has 2" in result.reason
    # A third group IV parameter completes it: I, IV, V.
    # pH 7 → 100; COD 12 → 100 − 25·2/5 = 90; NH4 0.2 → 100; BOD5 4 → 100; mean 290/3;
    # Coliform 100 → 100. WQI = 1 · (96.667 · 100)^(1/2) = 98.319… → 98 "Rất tốt".
    complete = vn_wqi({**sample, P.BOD5: 4})
    assert complete.unrounded == pytest.approx(math.sqrt(290 / 3 * 100))
    assert complete.value == 98
    assert complete.category is not None
    assert complete.category.name == "Rất tốt"


def test_do_without_temperature_is_reported_and_left_out() -> None:
    result = vn_wqi({**FULL, P.DO: 7.5})
    assert result.missing == {P.DO: "DO needs the water temperature for its % saturation"}
    assert result.unrounded == pytest.approx(vn_wqi(FULL).unrounded)


def test_do_with_temperature_joins_group_iv() -> None:
    # DO at 100 % saturation → q 100; group IV mean (300 + 100)/5 = 80.
    result = vn_wqi({**FULL, P.DO: 8.17565625}, water_temp_c=25)
    assert result.sub_indices[P.DO] == pytest.approx(100)
    assert result.unrounded == pytest.approx(0.0375 * math.sqrt(80 * 100))


def test_a_missing_value_is_listed_not_scored() -> None:
    result = vn_wqi({**FULL, P.TOC: math.nan})
    assert result.missing == {P.TOC: "missing or negative value"}
    assert P.TOC not in result.sub_indices


def test_the_final_wqi_rounds_half_up() -> None:
    # Groups I (pH 7 → 100), III (factor 0.5) and IV (mean 75): 1 · 0.5 · 75 = 37.5 → 38.
    sample = {p: v for p, v in FULL.items() if p.group in (WqiGroup.III, WqiGroup.IV)}
    result = vn_wqi({**sample, P.PH: 7.0})
    assert result.unrounded == pytest.approx(37.5)
    assert result.value == 38
    assert round_half_up(36.5) == 37  # half up, not to even
    assert round_half_up(109.49999999999999) == 110  # float noise under an exact half


@given(
    cod=st.floats(min_value=0, max_value=1000),
    bod=st.floats(min_value=0, max_value=1000),
    nh4=st.floats(min_value=0, max_value=100),
    ph=st.floats(min_value=0, max_value=14),
    coliform=st.floats(min_value=0, max_value=1e6),
)
def test_wqi_stays_on_its_scale(
    cod: float, bod: float, nh4: float, ph: float, coliform: float
) -> None:
    result = vn_wqi({P.PH: ph, P.COD: cod, P.BOD5: bod, P.N_NH4: nh4, P.COLIFORM: coliform})
    assert result.value is not None
    assert 0 <= result.value <= 100
    assert result.category is not None


@pytest.mark.parametrize(
    ("value", "name", "hex_"),
    [
        (100, "Rất tốt", "#3333FF"),
        (91, "Rất tốt", "#3333FF"),
        (90, "Tốt", "#00E400"),
        (76, "Tốt", "#00E400"),
        (75, "Trung bình", "#FFFF00"),
        (51, "Trung bình", "#FFFF00"),
        (50, "Xấu", "#FF7E00"),
        (26, "Xấu", "#FF7E00"),
        (25, "Kém", "#FF0000"),
        (10, "Kém", "#FF0000"),
        (9, "Ô nhiễm rất nặng", "#7E0023"),
        (0, "Ô nhiễm rất nặng", "#7E0023"),
    ],
)
def test_wqi_categories(value: int, name: str, hex_: str) -> None:
    category = wqi_category(value)
    assert (category.name, category.hex) == (name, hex_)


def test_wqi_category_outside_the_scale() -> None:
    with pytest.raises(ValueError, match="outside"):
        wqi_category(101)
