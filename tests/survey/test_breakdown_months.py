"""A quarter's or a year's breakdowns from each month's sums (`breakdowns._from_months`,
`analysis.cut_sums`) equal the breakdowns computed from the period's respondents at once, and a new
response recomputes its own month's sums only."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Unit
from survey.services.reporting import breakdowns
from survey.services.reporting.indices import instrument_for
from survey.services.reporting.periods import Period
from survey.services.staff.access import subtree_ids
from tests.survey.aggregate_helpers import KEY, demo_with_responses, respond_at_first_counter

FIGURES = ("est", "se", "ci_lo", "ci_hi", "deff_kish", "n_eff", "p_value")


@pytest.fixture
def mapp(migrated_db: Path, tmp_path: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 300, seed=7)


def _both(app: Flask, code: str, period: Period, weighted: bool
          ) -> tuple[dict[str, breakdowns._Counts], dict[str, breakdowns._Counts]]:
    with app.app_context():
        session = db.session()
        unit = session.scalar(sa.select(Unit).where(Unit.code == code))
        assert unit is not None
        instrument = instrument_for(KEY)
        months = breakdowns._computed(session, unit, instrument, period, weighted=weighted, target=0.8,
                                      min_cell=3)
        whole = breakdowns._from_period(session, unit, subtree_ids(session, [unit.id]), instrument, period,
                                        weighted, 0.8, 3)
        db.session.remove()
        return months, whole


@pytest.mark.parametrize("code", ["HL", "HL-AB", "HL-HL"])
@pytest.mark.parametrize("period", [Period.year(2026), Period.quarter(2026, 4)])
@pytest.mark.parametrize("weighted", [True, False])
def test_a_periods_breakdowns_from_its_months_equal_the_whole_periods(
        mapp: Flask, code: str, period: Period, weighted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[object] = []
    real = breakdowns._from_months
    monkeypatch.setattr(breakdowns, "_from_months", lambda *a: used.append(real(*a)) or used[-1])
    months, whole = _both(mapp, code, period, weighted)
    assert used and used[0] is not None, "the months' sums were not used"
    assert list(months) == list(whole) and len(whole) >= 3
    compared = 0
    for variable, counts in whole.items():
        found = months[variable]
        assert found.respondents == counts.respondents and list(found.respondents) == list(counts.respondents)
        assert set(found.index) == set(counts.index)
        for category, row in counts.index.items():
            mine = found.index[category]
            assert mine["n"] == row["n"] and mine["verdict"] == row["verdict"], (variable, category)
            for figure in FIGURES:
                if isinstance(row[figure], float) and math.isnan(row[figure]):
                    assert math.isnan(mine[figure]), (variable, category, figure)
                else:
                    expected = pytest.approx(row[figure], rel=1e-12, abs=1e-15)
                    assert mine[figure] == expected, (variable, category, figure)
                    compared += 1
    assert compared > 20


def test_a_new_response_recomputes_its_own_months_sums(mapp: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    summed: list[set[str]] = []
    real = breakdowns.cut_sums
    monkeypatch.setattr(breakdowns, "cut_sums",
                        lambda data, *a, **k: summed.append(set(data["month"])) or real(data, *a, **k))
    year = Period.year(2026)
    first, _ = _both(mapp, "HL", year, True)
    assert summed == [{"2026-10", "2026-11"}]  # every month in one pass; the others have no respondents
    summed.clear()
    respond_at_first_counter(mapp, {"e1_info": 5}, datetime(2026, 11, 20, 3, tzinfo=UTC))
    after, whole = _both(mapp, "HL", year, True)
    assert summed == [{"2026-11"}]  # November's alone
    assert sum(after["channel"].respondents.values()) == sum(first["channel"].respondents.values()) + 1
    assert after["channel"].respondents == whole["channel"].respondents
