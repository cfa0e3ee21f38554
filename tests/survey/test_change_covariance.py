"""The change against the previous period shown on the unit page, in the PDF content and in the XLSX is
the one-design change with the covariance of the two periods (`period_change`), worked out here by hand.

Every respondent answers every criterion (tests/survey/report_helpers.py: `add_responses`), so each
period's overall index is the (weighted) mean of one score per respondent, ``y_i`` = mean over the
elements of the share of the element's criteria satisfied. The overall index's linearized variable in
period t is ``z_i = 1{i in t} (y_i - p_t) / W_t`` (``W_t`` the period's weight total), and the change's
is ``z_i(now) - z_i(before)``. Strata are the units (over both periods), each response its own PSU:
``V = sum_h n_h/(n_h-1) sum_{i in h} (u_i - mean_h u)^2`` (Lumley 2010, sec. 2.2), with ``u = w z`` for
fixed weights and, post-stratified, ``u_i = w_i (z_i - mean of z in i's weighting cell)`` (Särndal,
Swensson & Wretman 1992, sec. 6.6; R's ``postStratify``). The library function itself is checked
against R's ``svycontrast`` in tests/analysis/test_period_contrast.py.
"""

from __future__ import annotations

import io
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from scipy import stats

from analysis.calibration import stacked_period_weights
from analysis.period_contrast import change_with_covariance
from analysis.weights import poststratify
from instruments.index import IndexDefinition
from instruments.registry import get_registered
from survey.extensions import db
from survey.models import FrameUpload, Role, ServedCount, Unit
from survey.services.reporting.indices import compute_unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.report_content import _change
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import AB_CODES, HL_CODES, add_responses
from tests.survey.staff_helpers import signed_in, staff_app

SIPAS = "sipas-counter@2025.1"
QUERY = "period=2026-10&weighted=0&lang=en"


def scores(codes: list[int]) -> np.ndarray:
    """Each respondent's y_i by the answering rule of `add_responses` (criterion j of the instrument's
    element order: the code, or on every third criterion the code less 1 for odd-numbered responses)."""
    elements = get_registered("sipas-counter", "2025.1").instrument.index.elements
    out = []
    for i, code in enumerate(codes):
        j, shares = 0, []
        for element in elements:
            satisfied = []
            for _criterion in element.criteria:
                answer = code if j % 3 else max(1, code - i % 2)
                satisfied.append(answer >= 4)
                j += 1
            shares.append(sum(satisfied) / len(satisfied))
        out.append(sum(shares) / len(shares))
    return np.array(out)


def t_test(diff: float, se: float, df: float) -> tuple[float, float, float]:
    quantile = stats.t.ppf(0.975, df)
    return diff - quantile * se, diff + quantile * se, 2 * stats.t.sf(abs(diff) / se, df)


def test_one_unit_unweighted_change_is_the_one_design_contrast(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10, month=10, harassment=False)
    add_responses(app, "HL-AB-1", HL_CODES, day=10, month=9, harassment=False)
    y1, y0 = scores(AB_CODES), scores(HL_CODES)
    n1, n0 = len(y1), len(y0)
    p1, p0 = y1.mean(), y0.mean()
    # One stratum over both periods: the mean of u is 0 (each period's deviations sum to 0).
    u = np.concatenate([(y1 - p1) / n1, -(y0 - p0) / n0])
    n = n1 + n0
    se = math.sqrt(n / (n - 1) * float((u**2).sum()))
    df = min(n1 - 1, n0 - 1)
    lo, hi, p_value = t_test(p1 - p0, se, df)
    # The independent-periods SE (each period's own with-replacement variance) is another number.
    independent = math.sqrt(((y1 - p1) ** 2).sum() / (n1 * (n1 - 1))
                            + ((y0 - p0) ** 2).sum() / (n0 * (n0 - 1)))
    assert abs(independent / se - 1) > 1e-3

    with app.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-AB-1"))
        assert unit is not None
        report = compute_unit_indices(db.session, unit, SIPAS, Period.month(2026, 10), weighted=False)
    change = report.change
    assert change is not None and change["direction"] != "not_comparable"
    assert (change["est1"], change["previous_est"]) == pytest.approx((p1, p0), abs=1e-12)
    assert change["diff"] == pytest.approx(p1 - p0, abs=1e-12)
    assert change["se"] == pytest.approx(se, rel=1e-10)
    assert change["df"] == df
    assert (change["lo"], change["hi"]) == pytest.approx((lo, hi), abs=1e-10)
    assert change["p_value"] == pytest.approx(p_value, rel=1e-8)
    content = _change(report)
    assert content is not None and content.se == pytest.approx(se, rel=1e-10)

    # The page, the XLSX and the PDF's content say the same numbers, and the test's sidedness.
    client = signed_in(app, "admin", Role.ADMIN, totp=True)
    page = client.get(f"/manage/units/{unit_id('HL-AB-1', app)}?{QUERY}")
    html = page.get_data(as_text=True)
    assert "two-sided p" in html
    assert f"{(lo * 100):.1f} … {(hi * 100):.1f}" in html
    xlsx = client.get(f"/manage/units/{unit_id('HL-AB-1', app)}/report.xlsx?{QUERY}")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.data))
    sheet = book["Change"]
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, (c.value for c in sheet[2]), strict=True))
    assert row["Change"] == pytest.approx(p1 - p0, abs=1e-12)
    assert (row["Lower bound (95%)"], row["Upper bound (95%)"]) == pytest.approx((lo, hi), abs=1e-10)
    assert row["two-sided p"] == pytest.approx(p_value, rel=1e-8)
    assert row["Degrees of freedom"] == df
    method = {r[0].value: r[1].value for r in book["Method"].iter_rows(min_row=2)}
    assert "covariance" in str(method["Change against the previous period"])


def _frame(app: object, served: dict[tuple[str, int], int]) -> None:
    with app.app_context():  # type: ignore[attr-defined]
        upload = FrameUpload(source="csv", rows=len(served))
        db.session.add(upload)
        db.session.flush()
        for (code, month), count in served.items():
            last = 30 if month == 9 else 31
            db.session.add(ServedCount(unit_id=unit_id(code, app), procedure_field="", channel="",  # type: ignore[arg-type]
                                       period_start=date(2026, month, 1), period_end=date(2026, month, last),
                                       served=count, upload_id=upload.id))
        db.session.commit()


def test_two_units_poststratified_change_has_the_calibrated_covariance(migrated_db: Path,
                                                                       tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    answers = {("HL-AB-1", 10): AB_CODES, ("HL-AB-1", 9): HL_CODES, ("HL-HL-1", 10): HL_CODES,
               ("HL-HL-1", 9): AB_CODES[:20]}
    served = {("HL-AB-1", 10): 400, ("HL-AB-1", 9): 300, ("HL-HL-1", 10): 100, ("HL-HL-1", 9): 200}
    for (code, month), codes in answers.items():
        add_responses(app, code, codes, day=10, month=month, harassment=False)
    _frame(app, served)
    # Weighting cells = unit x month (one field): w = served / respondents in the cell.
    cells = {key: (scores(codes), served[key] / len(codes)) for key, codes in answers.items()}
    totals = {m: sum(served[(c, m)] for c in ("HL-AB-1", "HL-HL-1")) for m in (10, 9)}
    p = {m: sum(served[(c, m)] * cells[(c, m)][0].mean() for c in ("HL-AB-1", "HL-HL-1")) / totals[m]
         for m in (10, 9)}
    variance = 0.0
    for code in ("HL-AB-1", "HL-HL-1"):
        # In a cell z - (cell mean of z) = (y - cell mean of y) / W_t: the cell's residuals sum to 0,
        # so the stratum's mean u is 0.
        u = np.concatenate([sign * cells[(code, m)][1] * (cells[(code, m)][0] - cells[(code, m)][0].mean())
                            / totals[m] for m, sign in ((10, 1.0), (9, -1.0))])
        variance += len(u) / (len(u) - 1) * float((u**2).sum())
    se = math.sqrt(variance)
    df = min(len(AB_CODES) + len(HL_CODES) - 2, len(HL_CODES) + 20 - 2)  # PSUs - strata, per period
    lo, hi, p_value = t_test(p[10] - p[9], se, df)

    with app.app_context():
        root = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        assert root is not None
        report = compute_unit_indices(db.session, root, SIPAS, Period.month(2026, 10), weighted=True)
    assert report.weighted, report.weighting
    change = report.change
    assert change is not None
    assert change["diff"] == pytest.approx(p[10] - p[9], abs=1e-12)
    assert change["se"] == pytest.approx(se, rel=1e-10)
    assert change["df"] == df
    assert (change["lo"], change["hi"]) == pytest.approx((lo, hi), abs=1e-10)
    assert change["p_value"] == pytest.approx(p_value, rel=1e-8)
    # The alerts read the same table.
    assert report.changes.loc["HL", "se"] == change["se"]


def test_a_period_without_frame_keeps_its_linearized_values_in_the_joint_design() -> None:
    """One period post-stratified (cells unit x field), the other unweighted (no frame that month):
    `stacked_period_weights` stacks a calibration block for the first and none for the second. By hand
    for unit a (its own stratum over both periods): u = w (z - cell mean of z) in the weighted period,
    u = z in the other, with z = +-(y - p_t) / W_t, and V = n/(n-1) sum (u - mean u)^2."""
    rng = np.random.default_rng(1)
    now = pd.DataFrame({"unit": ["a"] * 30 + ["b"] * 30, "field": rng.choice(["x", "y"], 60),
                        "month": "m1", "q1": rng.integers(1, 6, 60), "q2": rng.integers(1, 6, 60)})
    before = pd.DataFrame({"unit": ["a"] * 25 + ["b"] * 25, "field": rng.choice(["x", "y"], 50),
                           "month": "m0", "q1": rng.integers(1, 6, 50), "q2": rng.integers(1, 6, 50)})
    frame = pd.DataFrame([(u, f, "m1", served) for u in "ab" for f, served in (("x", 100), ("y", 300))],
                         columns=["unit", "field", "month", "served"])
    weighted = poststratify(now, frame, ["field"], unit_col="unit", count_col="served", period_col="month")
    data = pd.concat([now.assign(t="1"), before.assign(t="0")], ignore_index=True)
    weights, calibration = stacked_period_weights(data.index, [60, 50], [weighted, None])
    definition = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1")])
    table = change_with_covariance(data, definition, unit_col="unit", period_col="t", current="1",
                                   previous="0", weights=weights, calibration=calibration)
    row = table[(table["domain"] == "a") & (table["stat_type"] == "overall_index")].iloc[0]

    a1, a0 = now[now["unit"] == "a"], before[before["unit"] == "a"]
    w1 = weighted.weights[a1.index].to_numpy()
    y1 = ((a1["q1"] >= 4).astype(float) + (a1["q2"] >= 4)).to_numpy() / 2
    y0 = ((a0["q1"] >= 4).astype(float) + (a0["q2"] >= 4)).to_numpy() / 2
    p1, p0 = float((w1 * y1).sum() / w1.sum()), float(y0.mean())
    z1 = (y1 - p1) / w1.sum()
    cell_mean = pd.Series(z1).groupby(a1["field"].to_numpy()).transform("mean").to_numpy()
    u = np.concatenate([w1 * (z1 - cell_mean), -(y0 - p0) / len(y0)])
    n = len(u)
    se = math.sqrt(n / (n - 1) * float(((u - u.mean()) ** 2).sum()))
    assert row["diff"] == pytest.approx(p1 - p0, abs=1e-12)
    assert row["se"] == pytest.approx(se, rel=1e-10)
    assert row["df"] == 24  # 25 respondents of the smaller period, one stratum
