"""Indices as managers see them, and the reports made from them.

- `periods`: calendar periods (month, quarter, year) and trend windows.
- `respondent_data`: respondents out of the database, shaped for `analysis`.
- `indices`: the one place the web calls `analysis` (intervals, verdicts, trends, change).
- `index_report`: a unit report as pages read it (rows, change and trend of a domain, looked up once).
- `period_change`: the overall index's change against the previous period, one design over both.
- `weighting_cells`: which post-stratification cells were merged into which, and why, in words.
- `index_cache`: the one cache mechanism: per-process values kept while their data version (read from the
  index aggregates, the responses left out, frames and targets) is unchanged.
- `breakdowns`: a unit's index by field, channel and profile answers, and its respondent profile.
- `benchmarks`: the parent's and the province's figures beside a unit's.
- `fix_first`: a unit's criteria furthest below target, with change and the comments that mention them.
- `comment_topics`: which comments mention which criterion (keyword lists and the matching rule).
- `aggregates`: the index aggregates (integer sums per unit, field, month), kept by each submission.
- `aggregate_rebuild`: the aggregates recomputed from the responses (`flask aggregates rebuild`, `check`).
- `index_source`: the one choice of a period's source, the aggregates when complete or the responses.
- `period_weights`: a period's post-stratification weights, from respondents or from their counts.
- `alerts`: units below target and significant drops, with acknowledgements.
- `small_cells`: which units' figures every table hides (small counts and their complements).
- `viewer_cells`: that decision made once per viewer, on the trees of their scope's roots.
- `report_content`: what a unit report says, assembled once for PDF, XLSX and CSV.
- `pdf_report`: the unit report printed by WeasyPrint.
- `subscriptions`: who receives which unit's report by e-mail (subscribe, cancel; scoped).
- `report_mail`: which scheduled reports are due, the message carrying one, the record it was sent.
"""
