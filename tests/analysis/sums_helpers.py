"""Random respondents, frames and cell sums shared by the sums-vs-respondents tests
(test_cell_sums.py, test_change_from_sums.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.cell_sums import cell_sums
from analysis.data import item_matrices
from analysis.poststratification import CellWeights
from analysis.weights import poststratify_counts
from instruments.index import IndexDefinition

PARENTS = {"u1": "p1", "u2": "p1", "u3": "p1", "u4": "p2", "u5": "p2", "u6": "p2"}


def cells_and_sums(data: pd.DataFrame, keys: list[str],
                   definition: IndexDefinition) -> tuple[pd.DataFrame, np.ndarray]:
    """One cell per distinct `keys` of the respondents, with its sums (`analysis.cell_sums`)."""
    codes, table = pd.MultiIndex.from_frame(data[keys]).factorize()
    cells = pd.DataFrame(list(table), columns=keys)
    return cells, cell_sums(item_matrices(data, definition), codes.astype(np.intp), len(cells))


def random_respondents(seed: int, n: int) -> pd.DataFrame:
    """Answers to the test definition in six units and a one-respondent unit "solo", three fields."""
    rng = np.random.default_rng(seed)
    units = ["u1", "u2", "u3", "u4", "u5", "u6", "solo"]
    unit = rng.choice(units, size=n, p=[0.2, 0.2, 0.15, 0.15, 0.15, 0.149, 0.001])
    unit[0] = "solo"  # one respondent alone in its unit: a lonely stratum
    data = pd.DataFrame({"unit": unit, "field": rng.choice(["land", "justice", "business"], size=n,
                                                            p=[0.6, 0.37, 0.03])})
    for item in ("q1", "q2", "q3", "q4", "q5", "overall"):
        codes = rng.integers(1, 6, size=n).astype(float)
        codes[rng.random(n) < 0.1] = np.nan
        codes[rng.random(n) < 0.05] = 0  # not applicable
        data[item] = codes
    data["harass"] = rng.integers(1, 4, size=n).astype(float)
    return data


def served_frame(data: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Served dossiers per unit x field: 2-8 times the respondents, plus one."""
    rng = np.random.default_rng(seed)
    counts = data.groupby(["unit", "field"]).size().reset_index(name="n")
    counts["served"] = (counts["n"] * (2 + 6 * rng.random(len(counts)))).round() + 1
    return counts[["unit", "field", "served"]]


def post_stratified_cells(data: pd.DataFrame, frame: pd.DataFrame, definition: IndexDefinition
                          ) -> tuple[pd.DataFrame, np.ndarray, CellWeights]:
    """Sums per unit x field with the weights and calibration cells `poststratify_counts` gives them."""
    cells, sums = cells_and_sums(data, ["unit", "field"], definition)
    weighting = poststratify_counts(cells.assign(respondents=sums[:, 0]), frame, ["field"], unit_col="unit",
                                    count_col="served", min_cell=40)
    index = pd.MultiIndex.from_frame(cells[["unit", "field"]])
    cells["weight"] = weighting.weight.reindex(index).to_numpy()
    cells["calibration_cell"] = weighting.cell.reindex(index).to_numpy()
    return cells, sums, weighting
