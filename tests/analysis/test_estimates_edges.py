"""analysis.estimates: a mutant `make mutation` found alive (the lonely-PSU message)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.design import LonelyPSUError
from analysis.tables import compute_indices
from instruments.index import IndexDefinition


def test_a_lonely_psu_error_names_the_stratum_that_has_one() -> None:
    # Stratum "a" has two clusters, stratum "b" one: R's default (lonely_psu="fail") refuses, and the
    # message must point at "b", not at the first stratum seen.
    data = pd.DataFrame({"unit": "u", "stratum": ["a", "a", "a", "b", "b"],
                         "cluster": ["a1", "a1", "a2", "b1", "b1"], "q1": [5, 4, 2, 5, 1]})
    definition = IndexDefinition.from_mapping([("q1", "e1")])
    message = (r"^stratum 'b' has only one PSU \(lonely_psu='fail', R's default\); "
               r"choose lonely_psu='adjust', 'average', 'certainty' or 'remove'$")
    with pytest.raises(LonelyPSUError, match=message):
        compute_indices(data, definition, unit_col="unit", strata_col="stratum", cluster_col="cluster",
                        min_n=0)
