"""The cell statistics of a cut summed per domain, each stratum centred on its own mean: the one input of
every linearized variance (`analysis.estimates`) and of the change between periods
(`analysis.period_contrast`). Strata are centred before summing, so a domain's sums are those of its
strata's (stratum, domain) cells; R's "adjust" rule leaves a lonely stratum uncentred.

References
----------
Wolter KM (2007). *Introduction to Variance Estimation*, 2nd ed., ch. 6. Springer.
Lumley T. *survey: analysis of complex survey samples*, R package, help page ``surveyoptions``
(``survey.lonely.psu``: "adjust").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from analysis.data import FloatArray
from analysis.design import Design
from analysis.sufficient import CellStatistics


@dataclass(frozen=True)
class DomainSums:
    """Each domain's sums of the cell statistics, centred per stratum: what every variance reads."""

    totals: FloatArray
    centred: FloatArray  # (D, 2K, 2K)
    pair_centred: FloatArray  # (D, R, 3); (D, 0) when summed `ratios_only`, like both sizes
    # The size of the sums `centred` and `pair_centred` are differences of: their rounding is relative
    # to these, not to the (much smaller) centred values (`analysis.estimates`).
    centred_size: FloatArray  # (D, 2K, 2K)
    pair_centred_size: FloatArray  # (D, R, 3)
    strata: FloatArray  # (D, Q) strata with the statistic's PSUs
    lonely: FloatArray  # (D, Q) lonely strata among them
    psus: FloatArray
    rows: FloatArray
    rows_positive: FloatArray
    sum_w: FloatArray
    sum_w2: FloatArray
    sum_w_fpc: FloatArray  # sum_w with each stratum's weights times its 1 - f_h


def _pair_sums(cells: CellStatistics, centre: FloatArray, n_psu: FloatArray, scale: FloatArray,
               lonely: np.ndarray, adjust: bool) -> tuple[FloatArray, FloatArray]:
    """The extra ratios' centred (numerator, denominator) products per cell, and their size."""
    pairs = cells.layout.pair_columns()
    num = centre[:, [a for a, _ in pairs]]
    den = centre[:, [b for _, b in pairs]]
    products = np.stack([num * num, num * den, den * den], axis=2)
    pair_centred = cells.pair_cross - products / n_psu[:, None, None]
    pair_centred_size = (np.abs(cells.pair_cross) + np.abs(products) / n_psu[:, None, None]) \
        * scale[:, None, None]
    pair_centred[lonely] = cells.pair_cross[lonely] if adjust else 0.0
    pair_centred *= scale[:, None, None]
    return pair_centred, pair_centred_size


def domain_sums(cells: CellStatistics, design: Design, n_domains: int, *,
                ratios_only: bool = False) -> DomainSums:
    """Each domain's sums from its (stratum, domain) cells.

    Parameters
    ----------
    cells : CellStatistics
        Per (stratum, domain) cell (`analysis.sufficient`).
    design : Design
        Its PSUs per stratum, variance scale, finite-population factor and lonely-PSU rule.
    n_domains : int
        How many domains the cells' domain codes index.
    ratios_only : bool, default False
        Only what the criterion ratios' variances read (`centred`, the totals and counts), the pair
        sums and both sizes left empty ``(D, 0)``: for a contrast that needs no rounding threshold,
        which at a province saves a few hundred megabytes of fresh arrays.

    Returns
    -------
    DomainSums
    """
    k2 = 2 * cells.layout.k
    n_psu = design.psu_per_stratum[cells.stratum].astype(np.float64)
    scale = design.variance_scale()[cells.stratum]
    lonely = n_psu == 1
    centre = cells.totals if cells.variance_totals is None else cells.variance_totals
    t = centre[:, :k2]
    correction = t[:, :, None] * (t / n_psu[:, None])[:, None, :]
    if ratios_only:
        centred_size = np.zeros((len(lonely), 0))
    else:
        centred_size = (np.abs(cells.cross) + np.abs(correction)) * scale[:, None, None]
    # R's onestrat does not centre a lonely stratum under "adjust": its PSU total is compared with the
    # domain mean, which is zero for a linearized variable. Other rules drop the lonely stratum.
    correction[lonely] = 0.0
    centred = np.subtract(cells.cross, correction, out=correction)
    if design.lonely_psu != "adjust":
        centred[lonely] = 0.0
    centred *= scale[:, None, None]
    if ratios_only:
        pair_centred = pair_centred_size = np.zeros((len(lonely), 0))
    else:
        pair_centred, pair_centred_size = _pair_sums(cells, centre, n_psu, scale, lonely,
                                                     design.lonely_psu == "adjust")
    present = (cells.psu_present > 0).astype(np.float64)
    summing = sparse.csr_matrix(
        (np.ones(len(cells.domain)), (cells.domain, np.arange(len(cells.domain)))),
        shape=(n_domains, len(cells.domain)),
    )

    def total(array: np.ndarray) -> FloatArray:
        flat = array.reshape(array.shape[0], int(np.prod(array.shape[1:])))
        return np.asarray(summing @ flat).reshape((n_domains, *array.shape[1:]))

    return DomainSums(
        totals=total(cells.totals),
        centred=total(centred),
        pair_centred=total(pair_centred),
        centred_size=total(centred_size),
        pair_centred_size=total(pair_centred_size),
        strata=total(present),
        lonely=total(present * lonely[:, None]),
        psus=total(cells.psu_present),
        rows=total(cells.rows),
        rows_positive=total(cells.rows_positive),
        sum_w=total(cells.sum_w),
        sum_w_fpc=total(cells.sum_w * design.fpc_factor[cells.stratum][:, None]),
        sum_w2=total(cells.sum_w2),
    )
