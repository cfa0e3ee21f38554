"""Disclosure control: k and l are checked on the released records by a second implementation written
here (a plain Counter over tuples), never by the counters `protect` reports about itself."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pytest

from analysis.disclosure import (
    DisclosureRefused,
    DisclosureRules,
    QuasiIdentifier,
    generalise,
    period_labels,
    protect,
)

STAR = "<suppressed>"
QIS = ("unit", "period", "age_band", "sex")
RULES = DisclosureRules(
    quasi_identifiers=(QuasiIdentifier("unit", suppressible=False),
                       QuasiIdentifier("period", suppressible=False),
                       QuasiIdentifier("age_band"), QuasiIdentifier("sex")),
    sensitive=("extra_payment",), k=5, l=2, budget=0.5,
)


def released_rows(protected_data: pd.DataFrame, mask: pd.DataFrame, columns: tuple[str, ...]) -> list[dict]:
    """The release as a researcher would see it: suppressed cells replaced by a marker."""
    rows = []
    for index, record in protected_data.iterrows():
        rows.append({c: (STAR if mask.at[index, c] else ("NA" if pd.isna(record[c]) else record[c]))
                     for c in columns})
    return rows


def smallest_group(rows: list[dict], qis: tuple[str, ...]) -> int:
    counts = Counter(tuple(row[q] for q in qis) for row in rows)
    return min(counts.values())


def fewest_distinct(rows: list[dict], qis: tuple[str, ...], item: str) -> int | None:
    seen: dict[tuple, set] = defaultdict(set)
    for row in rows:
        if row[item] not in ("NA", STAR):
            seen[tuple(row[q] for q in qis)].add(row[item])
    return min((len(values) for values in seen.values()), default=None)


def synthetic(seed: int, n: int = 400, units: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "unit": rng.choice([f"U{i}" for i in range(units)], n),
        "period": rng.choice(["2026-10", "2026-11"], n),
        "age_band": rng.choice([1, 2, 3, 4, 5, np.nan], n, p=[.05, .2, .3, .25, .1, .1]),
        "sex": rng.choice([1, 2, np.nan], n, p=[.45, .45, .1]),
        "extra_payment": rng.choice([1, 2, np.nan], n, p=[.8, .1, .1]),
        "overall": rng.integers(1, 6, n),
    })


@pytest.mark.parametrize("seed", range(8))
def test_released_records_are_k_anonymous_and_l_diverse_by_an_independent_count(seed: int) -> None:
    data = synthetic(seed)
    out = protect(data, RULES)
    rows = released_rows(out.data, out.suppressed, (*QIS, "extra_payment"))
    assert len(rows) > 0.8 * len(data)
    assert smallest_group(rows, QIS) >= 5
    distinct = fewest_distinct(rows, QIS, "extra_payment")
    assert distinct is None or distinct >= 2
    # Non-quasi-identifier columns and unsuppressed values are released unchanged.
    pd.testing.assert_frame_equal(out.data, data.loc[out.data.index])
    # The report agrees with the independent count (it is a description, not the proof).
    assert out.report.k_achieved == smallest_group(rows, QIS)
    assert out.report.l_achieved == distinct
    blanked = sum(row[c] == STAR for row in rows for c in (*QIS, "extra_payment"))
    removed = len(data) - len(rows)
    assert out.report.suppressed_cells == blanked + removed * 5


def test_hand_example_blanks_the_rare_sex_and_removes_the_lone_unit() -> None:
    # U1 October: five women and one man, all in age band 3. The man's group (U1, 10, 3, M) has 1
    # record; blanking age_band leaves (U1, 10, *, M) = 1, blanking sex too (U1, 10, *, *) = 1: he is
    # removed. The five women stay untouched. U2 has four records in all: removed.
    data = pd.DataFrame({
        "unit": ["U1"] * 6 + ["U2"] * 4,
        "period": ["2026-10"] * 10,
        "age_band": [3] * 6 + [1, 2, 3, 4],
        "sex": [2, 2, 2, 2, 2, 1, 1, 1, 2, 2],
        "extra_payment": [1, 2, 1, 1, 1, 1, 1, 1, 1, 1],
    })
    out = protect(data, DisclosureRules(RULES.quasi_identifiers, ("extra_payment",), budget=1.0))
    assert list(out.data.index) == [0, 1, 2, 3, 4]
    assert not out.suppressed.any().any()
    assert out.report.records_removed == 5
    assert out.report.suppressed_cells == 25 and out.report.cells == 50
    assert out.report.k_achieved == 5 and out.report.l_achieved == 2


def test_homogeneous_sensitive_answers_are_suppressed() -> None:
    data = pd.DataFrame({"unit": ["U1"] * 5 + ["U2"] * 5, "period": ["p"] * 10, "age_band": [1] * 10,
                         "sex": [1] * 10, "extra_payment": [1, 1, 1, 1, 1, 1, 2, 1, 1, np.nan]})
    out = protect(data, DisclosureRules(RULES.quasi_identifiers, ("extra_payment",), budget=1.0))
    assert out.suppressed["extra_payment"].tolist() == [True] * 5 + [False] * 5
    assert out.report.l_achieved == 2
    assert out.report.suppressed_by_column == {"extra_payment": 5}


def test_refusal_names_what_to_coarsen() -> None:
    data = synthetic(1, n=120, units=20)  # about 3 records per unit and month: nothing can be safe
    with pytest.raises(DisclosureRefused) as refused:
        protect(data, RULES)
    assert refused.value.costliest[0] == "(records)"
    assert "coarsen" in str(refused.value)
    assert refused.value.report.suppression_rate > 0.5


def test_budget_is_enforced_at_its_edge() -> None:
    data = synthetic(3)
    rate = protect(data, RULES).report.suppression_rate
    assert 0 < rate < 0.5
    tight = DisclosureRules(RULES.quasi_identifiers, RULES.sensitive, budget=rate * 0.99)
    with pytest.raises(DisclosureRefused):
        protect(data, tight)
    protect(data, DisclosureRules(RULES.quasi_identifiers, RULES.sensitive, budget=rate))


@pytest.mark.parametrize("k", [0, 1, 2])
def test_k_below_three_is_refused(k: int) -> None:
    with pytest.raises(ValueError, match="k must be at least 3"):
        DisclosureRules(RULES.quasi_identifiers, k=k)


def test_larger_k_still_verified_independently() -> None:
    data = synthetic(5, n=800)
    rules = DisclosureRules(RULES.quasi_identifiers, RULES.sensitive, k=10, budget=0.6)
    out = protect(data, rules)
    rows = released_rows(out.data, out.suppressed, (*QIS, "extra_payment"))
    assert smallest_group(rows, QIS) >= 10


def test_generalise_merges_and_refuses_undeclared_values() -> None:
    bands = pd.Series([1, 2, 3, np.nan, 5], name="age_band")
    merged = generalise(bands, {1: 1, 2: 1, 3: 3, 4: 3, 5: 5})
    assert merged.tolist()[:3] == [1, 1, 3] and np.isnan(merged.iloc[3]) and merged.iloc[4] == 5
    with pytest.raises(ValueError, match="no coarser value"):
        generalise(bands, {1: 1, 2: 1})


def test_period_labels_never_keep_a_time() -> None:
    dates = pd.Series(pd.to_datetime(["2026-10-05 14:31", "2026-12-31 23:59", "2027-01-01 00:01"]))
    assert period_labels(dates, "day").tolist() == ["2026-10-05", "2026-12-31", "2027-01-01"]
    assert period_labels(dates, "week").tolist() == ["2026-W41", "2026-W53", "2026-W53"]
    assert period_labels(dates, "month").tolist() == ["2026-10", "2026-12", "2027-01"]
    assert period_labels(dates, "quarter").tolist() == ["2026-Q4", "2026-Q4", "2027-Q1"]
    assert period_labels(dates, "year").tolist() == ["2026", "2026", "2027"]


def test_nothing_releasable_is_a_refusal_not_a_crash() -> None:
    data = pd.DataFrame({"unit": ["U1", "U2", "U3"], "period": ["p"] * 3, "age_band": [1, 2, 3],
                         "sex": [1, 2, 1], "extra_payment": [1, 2, 1]})
    with pytest.raises(DisclosureRefused) as refused:
        protect(data, RULES)
    assert refused.value.report.records_out == 0 and refused.value.report.k_achieved is None
