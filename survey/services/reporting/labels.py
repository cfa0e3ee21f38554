"""The words that go with the figures, said once for the web pages, the PDF and the XLSX.

Verdicts (a shape and a word, never colour alone), precision flags, the index formula, the interval
method and the weighting statement, in the reader's language. The services keep English method
statements for machine-readable exports (`indices.INTERVAL_METHOD`, `indices.WEIGHTED_METHOD`);
these say the same in words for people.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from survey.services.reporting.indices import UNWEIGHTED_METHOD, WEIGHTED_METHOD
from survey.services.reporting.period_weights import CHOSEN_UNWEIGHTED, NO_RESPONSES

FORMULA_TEXT = _l("criterion index = share of valid answers that are satisfied (levels 4–5; "
                  "\"not applicable\" and missing answers excluded); element index = mean of its criterion "
                  "indices; overall index = weighted mean of the element indices")
# The default interval (analysis.intervals.DEFAULT_INTERVAL_METHOD).
INTERVAL_LABEL = _l("Wilson score interval on the smaller of the design and Kish effective sample sizes, "
                    "Kish's bound taken per criterion for element and overall indices (Clopper–Pearson "
                    "at 0 or 1)")

# verdict -> (shape, word, CSS class). A shape for every verdict: prints in black and white too.
VERDICTS = {
    "met": ("✔", _l("met"), "met"),
    "below": ("✖", _l("below target"), "below"),
    "inconclusive": ("?", _l("inconclusive"), "inconclusive"),
    "suppressed": ("–", _l("too few responses"), "suppressed"),
    "": ("·", _l("no target"), "none"),
}

# The mark of a figure the small-cell rule withholds (services/reporting/small_cells), and why.
SUPPRESSED = _l("suppressed")
SUPPRESSED_NOTE = _l("figures of a unit with 1 to 4 responses are not shown, nor those of another unit "
                     "that would let a reader work them out by subtracting from the total above it "
                     "(small-cell rule)")

FLAG_TEXT = {
    "suppressed": _l("too few responses"),
    "low_n_eff": _l("small effective sample"),
    "low_df": _l("few degrees of freedom"),
    "wide": _l("wide interval"),
    "boundary_cp": _l("exact interval (estimate at 0 or 1)"),
    "small_cell": _l("hidden so that a small count cannot be worked out"),
}

# analysis.change.Direction -> (shape, word): a significant change gets a direction, anything else none.
CHANGES = {
    "up": ("▲", _l("significant rise")),
    "down": ("▼", _l("significant drop")),
    "not_significant": ("≈", _l("no significant change")),
    "not_comparable": ("–", _l("not comparable")),
    "": ("", _l("no previous period")),
}

# The p-values printed beside a figure: the verdict's test against the target is one-sided (the side
# the estimate is on: analysis.verdicts), the change between periods two-sided (analysis.change).
P_ONE_SIDED = _l("one-sided p-value (vs target)")
P_TWO_SIDED = _l("two-sided p")
# How the change against the previous period is tested (survey.services.reporting.period_change).
CHANGE_LABEL = _l("difference of the two periods' overall indices with its standard error under one design "
                  "over both periods (their covariance included); two-sided t test and interval on the "
                  "smaller of the two periods' degrees of freedom")


def flag_text(flag: str) -> str:
    return str(FLAG_TEXT.get(flag, flag))


def flags_text(flags: object) -> str:
    """analysis's `|`-joined precision flags (or a sequence of them), in words."""
    if isinstance(flags, str):
        found: list[object] = list(flags.split("|"))
    else:
        found = list(flags) if isinstance(flags, tuple | list) else []
    return "; ".join(flag_text(str(flag)) for flag in found if flag)


def change_text(direction: str) -> str:
    return str(CHANGES[direction][1]) if direction in CHANGES else direction


def verdict_text(verdict: str) -> str:
    return str(VERDICTS[verdict][1]) if verdict in VERDICTS else verdict


def weighting_text(weighting: str) -> str:
    """The service's weighting statement, translated where it is one of the known ones."""
    known = {
        WEIGHTED_METHOD: _l("post-stratified to the dossiers served (unit × procedure field × month)"),
        UNWEIGHTED_METHOD: _l("unweighted: no served-dossier counts for this period"),
        CHOSEN_UNWEIGHTED: _l("unweighted (chosen by the reader)"),
        NO_RESPONSES: _l("no responses in this period"),
    }
    for statement, text in known.items():
        if weighting == statement:
            return str(text)
        if weighting.startswith(statement + " ("):
            return str(text) + weighting[len(statement):]
    return weighting
