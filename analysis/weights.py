"""Survey weights for satisfaction indices: post-stratification, raking, trimming, Kish summaries.

The public face of the weighting code; the methods live in `analysis.poststratification`,
`analysis.raking` and `analysis.weighting` so that each module has one reason to change.
Formulas, the cell-collapse rule and references: docs/weights.md.
"""

from analysis.poststratification import (
    DEFAULT_MIN_CELL,
    CellWeights,
    PoststratResult,
    poststratify,
    poststratify_counts,
)
from analysis.raking import RakeResult, TrimRedistribution, rake, trim_weights
from analysis.weighting import (
    RakingDidNotConverge,
    WeightingError,
    WeightingMethod,
    WeightingResult,
    WeightSummary,
    imported_weights,
    kish_deff,
    kish_n_eff,
    unit_weights,
    weight_summary,
)

__all__ = [
    "DEFAULT_MIN_CELL",
    "CellWeights",
    "PoststratResult",
    "RakeResult",
    "RakingDidNotConverge",
    "TrimRedistribution",
    "WeightSummary",
    "WeightingError",
    "WeightingMethod",
    "WeightingResult",
    "imported_weights",
    "kish_deff",
    "kish_n_eff",
    "poststratify",
    "poststratify_counts",
    "rake",
    "trim_weights",
    "unit_weights",
    "weight_summary",
]
