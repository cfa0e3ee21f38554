"""Small cases computed by hand (arithmetic in the comments) and against a respondent-level formula."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.tables import compute_indices
from instruments.index import IndexDefinition

ONE = IndexDefinition.from_mapping([("q1", "e1")])


def _two_units() -> pd.DataFrame:
    # Unit A: weights 1, 1, 2, 2 and q1 = 5, 2, 4, missing; unit B: weights 1, 1 and q1 = 4, 1.
    return pd.DataFrame({
        "unit": ["A", "A", "A", "A", "B", "B"],
        "w": [1.0, 1.0, 2.0, 2.0, 1.0, 1.0],
        "q1": [5, 2, 4, None, 4, 1],
    })


def _row(table: pd.DataFrame, domain: str, stat_type: str = "criterion", stat: str = "q1") -> pd.Series:
    rows = table[(table["domain"] == domain) & (table["stat_type"] == stat_type) & (table["stat"] == stat)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_criterion_index_and_linearized_se_by_hand() -> None:
    table = compute_indices(_two_units(), ONE, unit_col="unit", weight_col="w", min_n=0)
    a = _row(table, "A")
    # p_A = (1*1 + 1*0 + 2*1) / (1 + 1 + 2) = 3/4 (the missing answer is not a zero).
    assert a["est"] == pytest.approx(0.75, abs=1e-15)
    # z_i = w_i (s_i - p v_i) / 4 = 1/16, -3/16, 2/16, 0 (the missing row still counts as a PSU of the
    # stratum: n_h = 4). var = 4/3 * (1/256 + 9/256 + 4/256) = 4/3 * 14/256 = 7/96.
    assert a["se"] == pytest.approx(math.sqrt(7 / 96), abs=1e-15)
    assert a["df"] == 2  # 3 valid respondents - 1 stratum (R's degf of the subset design)
    assert a["n"] == 3 and a["sum_w"] == 4.0
    total = _row(table, "total")
    # p = (3 + 1) / (4 + 2) = 2/3. With D = 6: stratum A z = 1/18, -1/9, 1/9, 0 -> sum z^2 = 9/324,
    # mean 1/72, centred sum 9/324 - 4/72^2 = 35/1296, times 4/3 = 35/972. Stratum B z = 1/18, -1/9 ->
    # 5/324 - 2/36^2 = 1/72, times 2/1 = 1/36. var = 35/972 + 27/972 = 31/486.
    assert total["est"] == pytest.approx(2 / 3, abs=1e-15)
    assert total["se"] == pytest.approx(math.sqrt(31 / 486), abs=1e-15)
    assert total["df"] == 3  # 5 valid respondents - 2 strata
    # Kish: n_eff = (sum w)^2 / sum w^2 over valid answers = 36 / (1 + 1 + 4 + 1 + 1) = 4.5.
    assert total["n_eff"] == pytest.approx(4.5)
    assert total["deff_kish"] == pytest.approx(5 / 4.5)


def test_design_deff_uses_the_srs_variance_of_svymean_replace() -> None:
    table = compute_indices(_two_units(), ONE, unit_col="unit", weight_col="w", min_n=0)
    a = _row(table, "A")
    # SRS variance with replacement: p(1-p) n/(n-1) / n = (3/16) / 2 = 3/32; deff = (7/96) / (3/32) = 7/9.
    assert a["deff"] == pytest.approx(7 / 9, abs=1e-14)


def test_mean_score_by_hand() -> None:
    table = compute_indices(_two_units(), ONE, unit_col="unit", weight_col="w", min_n=0)
    # A: (1*5 + 1*2 + 2*4) / 4 = 15/4.
    assert _row(table, "A", "mean_score")["est"] == pytest.approx(3.75)
    assert _row(table, "A", "mean_score")["method"] == "wald"


def test_composites_match_a_respondent_level_linearization() -> None:
    rng = np.random.default_rng(3)
    n = 60
    data = pd.DataFrame({"unit": rng.choice(["A", "B", "C"], n), "w": rng.uniform(0.5, 2.0, n)})
    for item in ("q1", "q2", "q3"):
        data[item] = rng.choice([0, 1, 2, 3, 4, 5, np.nan], n)
    definition = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1"), ("q3", "e2")],
                                              element_weights={"e1": 1.0, "e2": 3.0})
    table = compute_indices(data, definition, unit_col="unit", weight_col="w", min_n=0)
    # Independent formula, one respondent at a time: z_i = sum_k a_k w_i (s_ik - p_k v_ik) / D_k,
    # var = sum_h n_h/(n_h - 1) sum_{i in h} (z_i - zbar_h)^2 over the whole sample (domain = total).
    codes = data[["q1", "q2", "q3"]].to_numpy()
    v = np.isin(codes, [1, 2, 3, 4, 5]).astype(float)
    s = np.isin(codes, [4, 5]).astype(float)
    w = data["w"].to_numpy()
    d = (w[:, None] * v).sum(axis=0)
    p = (w[:, None] * s).sum(axis=0) / d
    a = np.array([1 / 2 * 1 / 4, 1 / 2 * 1 / 4, 3 / 4])  # overall: omega_e / sum omega * 1/m_e
    z = (w[:, None] * (s - p * v) / d * a).sum(axis=1)
    var = 0.0
    for unit in ("A", "B", "C"):
        zh = z[data["unit"].to_numpy() == unit]
        var += len(zh) / (len(zh) - 1) * ((zh - zh.mean()) ** 2).sum()
    overall = _row(table, "total", "overall_index", "overall")
    assert overall["est"] == pytest.approx((a * p).sum(), abs=1e-14)
    assert overall["se"] == pytest.approx(math.sqrt(var), abs=1e-14)
    element = _row(table, "total", "element", "e1")
    assert element["est"] == pytest.approx(p[:2].mean(), abs=1e-14)


def test_zero_weights_count_as_psus_but_not_as_respondents() -> None:
    data = pd.DataFrame({"unit": ["A"] * 4 + ["B"] * 3, "w": [0, 1, 1, 2, 1, 1, 0],
                         "q1": [5, 4, 1, 2, 5, 5, 1]})
    table = compute_indices(data, ONE, unit_col="unit", weight_col="w", min_n=0)
    a = _row(table, "A")
    # p = (0 + 1 + 0 + 0) / (0 + 1 + 1 + 2) = 1/4; z = 0, 3/16, -1/16, -2/16 with n_h = 4 PSUs (the
    # zero-weight row included, as in R): var = 4/3 * 14/256 = 7/96. R 4.2.2 / survey 4.1.1:
    # svymean(~s, des[unit == "A", ]) -> 0.25, SE 0.2700309, degf 2 (zero-weight rows not counted).
    assert a["est"] == pytest.approx(0.25) and a["se"] == pytest.approx(math.sqrt(7 / 96), abs=1e-15)
    assert a["se"] == pytest.approx(0.2700309, abs=1e-7)
    assert a["n"] == 3 and a["df"] == 2
    total = _row(table, "total")
    assert total["est"] == pytest.approx(0.5) and total["se"] == pytest.approx(0.2307396, abs=1e-7)
    assert total["df"] == 3
