"""Edge cases: empty unit, all satisfied, one respondent, all N/A, dropped criteria, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data import AnalysisInputError, item_matrices, no_respondents
from analysis.design import LonelyPSUError
from analysis.domains import build_domains, unit_domains
from analysis.tables import Estimate, compute_indices
from instruments.index import IndexDefinition

TWO = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1"), ("q3", "e2")])


def _data(**columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame(columns)


def _get(table: pd.DataFrame, domain: str, stat_type: str, stat: str) -> pd.Series:
    return table.set_index(["domain", "stat_type", "stat"]).loc[(domain, stat_type, stat)]


def test_a_criterion_without_valid_answers_is_dropped_from_its_element() -> None:
    data = _data(unit=["A"] * 4, q1=[5, 4, 2, 5], q2=[0, 0, None, 0], q3=[4, 4, 1, 2])
    table = compute_indices(data, TWO, unit_col="unit", min_n=0)
    assert np.isnan(_get(table, "A", "criterion", "q2")["est"])
    assert _get(table, "A", "criterion", "q2")["n"] == 0
    # e1 = mean over defined criteria = p(q1) = 3/4, not (3/4 + 0)/2.
    assert _get(table, "A", "element", "e1")["est"] == pytest.approx(0.75)
    # overall = mean of the elements = (3/4 + 2/4) / 2.
    assert _get(table, "A", "overall_index", "overall")["est"] == pytest.approx(0.625)


def test_all_satisfied_uses_clopper_pearson_on_kish_n_eff() -> None:
    data = _data(unit=["A"] * 12, q1=[5, 4] * 6, q2=[4] * 12, q3=[5] * 12)
    row = _get(compute_indices(data, TWO, unit_col="unit", targets=0.8), "A", "criterion", "q1")
    assert row["est"] == 1.0 and row["se"] == 0.0
    assert row["method"] == "boundary_cp" and "boundary_cp" in row["flags"]
    # Clopper-Pearson with x = n = 12: lower = 0.025^(1/12) (Clopper & Pearson 1934).
    assert row["ci_lo"] == pytest.approx(0.025 ** (1 / 12), rel=1e-12)
    assert row["ci_hi"] == 1.0
    assert row["verdict"] == "inconclusive"  # 0.735 < 0.8 <= 1


def test_one_respondent_and_all_not_applicable() -> None:
    data = _data(unit=["A", "B", "B"], q1=[5, 0, 0], q2=[None, 0, 0], q3=[3, 0, None])
    table = compute_indices(data, TWO, unit_col="unit", lonely_psu="adjust", min_n=1)
    one = _get(table, "A", "criterion", "q1")
    assert one["n"] == 1 and one["df"] == 0 and one["est"] == 1.0
    assert "low_df" in one["flags"]
    empty = _get(table, "B", "criterion", "q1")
    assert empty["n"] == 0 and np.isnan(empty["est"]) and empty["verdict"] == "suppressed"
    assert np.isnan(_get(table, "B", "overall_index", "overall")["est"])


def test_empty_unit_in_the_hierarchy_gets_rows_with_n_zero() -> None:
    data = _data(unit=["A"] * 3, q1=[5, 4, 1], q2=[5, 4, 1], q3=[5, 4, 1])
    table = compute_indices(data, TWO, unit_col="unit", parents={"A": "P", "Empty": "P"})
    empty = table[table["domain"] == "Empty"]
    assert len(empty) > 0 and (empty["n"] == 0).all() and empty["est"].isna().all()
    assert (empty["verdict"] == "suppressed").all()
    assert (empty["level"] == "unit").all() and (empty["parent"] == "P").all()


def test_suppression_keeps_n_and_hides_the_estimate() -> None:
    data = _data(unit=["A"] * 5, q1=[5, 4, 1, 2, 5], q2=[5] * 5, q3=[1] * 5)
    row = _get(compute_indices(data, TWO, unit_col="unit", targets=0.5), "A", "criterion", "q1")
    assert row["n"] == 5 and np.isnan(row["est"]) and np.isnan(row["ci_lo"])
    assert row["verdict"] == "suppressed" and row["flags"].startswith("suppressed")


def test_lonely_psu_fails_by_default_like_r() -> None:
    data = _data(unit=["A", "B", "B"], q1=[5, 4, 1], q2=[5, 4, 1], q3=[5, 4, 1])
    with pytest.raises(LonelyPSUError, match="'A' has only one PSU"):
        compute_indices(data, TWO, unit_col="unit")


def test_bad_codes_and_missing_columns_are_input_errors() -> None:
    data = _data(unit=["A", "A"], q1=["5", "abc"], q2=[1, 2], q3=[1, 2])
    with pytest.raises(AnalysisInputError, match="'abc' is not a number"):
        compute_indices(data, TWO, unit_col="unit")
    with pytest.raises(AnalysisInputError, match="not an integer"):
        compute_indices(_data(unit=["A"], q1=[3.5], q2=[1], q3=[1]), TWO, unit_col="unit")
    with pytest.raises(AnalysisInputError, match="missing item column"):
        compute_indices(_data(unit=["A"], q1=[3]), TWO, unit_col="unit")
    with pytest.raises(AnalysisInputError, match="non-negative"):
        compute_indices(_data(unit=["A"], q1=[3], q2=[1], q3=[1], w=[-1.0]), TWO, unit_col="unit",
                        weight_col="w")


def test_numeric_strings_and_blanks_are_read_as_codes_and_missing() -> None:
    data = _data(unit=["A"] * 4, q1=[" 5", "4", "", "2"], q2=["1"] * 4, q3=["1"] * 4)
    row = _get(compute_indices(data, TWO, unit_col="unit", min_n=0), "A", "criterion", "q1")
    assert row["n"] == 3 and row["est"] == pytest.approx(2 / 3)


def test_clusters_spanning_units_are_refused() -> None:
    data = _data(unit=["A", "B", "A", "B"], psu=["x", "x", "y", "y"], q1=[5, 4, 1, 2], q2=[1] * 4,
                 q3=[1] * 4)
    with pytest.raises(AnalysisInputError, match="nested in units"):
        compute_indices(data, TWO, unit_col="unit", cluster_col="psu")


def test_periods_and_groupings_cut_every_domain() -> None:
    data = _data(unit=["A"] * 6, field=["x", "x", "y", "y", "y", "x"],
                 day=["2026-01-05", "2026-01-20", "2026-02-01", "2026-02-03", "2026-03-30", "2026-03-31"],
                 q1=[5, 1, 4, 4, 2, 5], q2=[1] * 6, q3=[1] * 6)
    table = compute_indices(data, TWO, unit_col="unit", by=["field"], period_col="day", period="quarter",
                            min_n=0)
    q1 = table[(table["stat"] == "q1") & (table["domain"] == "A")]
    assert set(q1["period"]) == {"2026Q1"}
    assert set(q1["field"]) == {"", "x", "y"}
    x = q1[q1["field"] == "x"].iloc[0]
    assert x["n"] == 3 and x["est"] == pytest.approx(2 / 3)
    months = compute_indices(data, TWO, unit_col="unit", period_col="day", period="month", min_n=0)
    assert set(months["period"]) == {"2026-01", "2026-02", "2026-03"}
    custom = compute_indices(data, TWO, unit_col="unit", period_col="day", min_n=0,
                             period={"early": ("2026-01-01", "2026-01-31"),
                                     "all": ("2026-01-01", "2026-12-31")})
    early = custom[(custom["period"] == "early") & (custom["stat"] == "q1") & (custom["domain"] == "A")]
    assert early.iloc[0]["n"] == 2


def test_estimate_dataclass_from_a_table_row() -> None:
    data = _data(unit=["A"] * 12, q1=[5, 4, 1] * 4, q2=[5] * 12, q3=[1] * 12)
    table = compute_indices(data, TWO, unit_col="unit", targets=0.5)
    estimate = Estimate.from_row(table.iloc[0].to_dict())
    assert estimate.domain == "A" and estimate.stat == "q1" and estimate.n == 12
    with pytest.raises(AttributeError):
        estimate.est = 0.0  # type: ignore[misc]


def test_small_batches_and_threads_give_the_same_table(monkeypatch: pytest.MonkeyPatch,
                                                       counters: pd.DataFrame,
                                                       household: pd.DataFrame) -> None:
    import analysis.sufficient

    definition = IndexDefinition.from_mapping([(q, "e1" if q < "q3" else "e2") for q in
                                               ("q1", "q2", "q3", "q4", "q5")])
    runs = {
        "counters": lambda: compute_indices(counters, definition, unit_col="unit", weight_col="w",
                                            by=["field"], lonely_psu="adjust", min_n=0),
        "household": lambda: compute_indices(household, definition, unit_col="commune", weight_col="w",
                                             strata_col="district", cluster_col="village", fpc_col="fpc",
                                             min_n=0),
    }
    for run in runs.values():
        whole = run()
        monkeypatch.setattr(analysis.sufficient, "_BATCH_ROWS", 7)  # many batches, run on two threads
        monkeypatch.setattr(analysis.sufficient, "_WORKERS", 2)
        batched = run()
        monkeypatch.undo()
        for column in ("est", "se", "df", "n", "sum_w", "n_eff"):
            np.testing.assert_allclose(batched[column], whole[column], rtol=1e-13, atol=1e-15)


def test_targets_by_domain_stat_and_default() -> None:
    data = _data(unit=["A"] * 12 + ["B"] * 12, q1=[5, 4, 1] * 8, q2=[5] * 24, q3=[1] * 24)
    table = compute_indices(data, TWO, unit_col="unit", lonely_psu="adjust",
                            targets={"*": 0.8, "q1": 0.6, "B": 0.9})
    target = table.set_index(["domain", "stat_type", "stat"])["target"]
    assert target[("A", "criterion", "q1")] == 0.6  # stat beats the default
    assert target[("A", "criterion", "q2")] == 0.8
    assert target[("B", "criterion", "q1")] == 0.9  # domain beats stat
    assert np.isnan(target[("A", "mean_score", "q1")])  # no target for mean scores
    with pytest.raises(AnalysisInputError, match="between 0 and 1"):
        compute_indices(data, TWO, unit_col="unit", lonely_psu="adjust", targets=80)


def test_fpc_as_sampling_fraction_equals_fpc_as_population(household: pd.DataFrame) -> None:
    # R's svydesign rule: fpc values all <= 1 are sampling fractions n_h / N_h, else population sizes.
    sampled = household.groupby("district")["village"].transform("nunique")
    as_fraction = household.assign(fpc=sampled / household["fpc"])
    kwargs = {"unit_col": "commune", "weight_col": "w", "strata_col": "district", "cluster_col": "village",
              "fpc_col": "fpc", "min_n": 0}
    by_count = compute_indices(household, TWO, **kwargs)
    by_fraction = compute_indices(as_fraction, TWO, **kwargs)
    np.testing.assert_allclose(by_fraction["se"], by_count["se"], rtol=1e-12)
    without = compute_indices(household, TWO, **{**kwargs, "fpc_col": None})
    assert (by_count["se"] <= without["se"] + 1e-15).all()  # the fpc only ever shrinks the variance


def test_fpc_given_as_text_fractions_is_read(household: pd.DataFrame) -> None:
    sampled = household.groupby("district")["village"].transform("nunique")
    as_text = household.assign(fpc=(sampled / household["fpc"]).map(repr))
    kwargs = {"unit_col": "commune", "weight_col": "w", "strata_col": "district", "cluster_col": "village",
              "fpc_col": "fpc", "min_n": 0}
    np.testing.assert_allclose(compute_indices(as_text, TWO, **kwargs)["se"],
                               compute_indices(household, TWO, **kwargs)["se"], rtol=1e-12)
    with pytest.raises(AnalysisInputError, match="fpc values must be positive"):
        compute_indices(household.assign(fpc="many"), TWO, **kwargs)


def test_the_matrices_without_respondents_are_shared_and_read_only(definition: IndexDefinition) -> None:
    """`no_respondents` is asked for by every table computed from sums: one object per definition, the
    layout of an empty frame's, which no caller can change."""
    shared = no_respondents(definition)
    assert no_respondents(definition) is shared
    fresh = item_matrices(pd.DataFrame(columns=definition.item_ids, dtype=np.float64), definition)
    for name, value in vars(fresh).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(shared, name), value)
            assert getattr(shared, name).shape == value.shape and not getattr(shared, name).flags.writeable
        else:
            assert getattr(shared, name) == value


def test_the_domains_of_unit_rows_are_made_once_per_tree() -> None:
    """`unit_domains` is `build_domains` of one row per unit, kept per units and tree (read-only)."""
    units, parents = ["b", "a", "c"], {"a": "p", "b": "p", "c": None}
    found = unit_domains(units, parents)
    expected = build_domains(pd.Series(units, dtype=object), parents)
    assert found.labels == expected.labels and found.levels == expected.levels
    assert found.parents == expected.parents
    np.testing.assert_array_equal(found.unit_codes, expected.unit_codes)
    for mine, theirs in zip(found.membership, expected.membership, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert unit_domains(tuple(units), dict(parents)) is found
    assert unit_domains(units, {**parents, "c": "p"}) is not found  # another tree
    assert not found.unit_codes.flags.writeable and not found.membership[0].flags.writeable
