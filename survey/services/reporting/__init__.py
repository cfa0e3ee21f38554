"""Indices as managers see them, and the reports made from them.

- `periods`: calendar periods (month, quarter, year) and trend windows.
- `respondent_data`: respondents out of the database, shaped for `analysis`.
- `indices`: the one place the web calls `analysis` (intervals, verdicts, trends, change).
- `index_cache`: per-process caches of index results keyed by a fingerprint of their inputs.
- `aggregates`: the index aggregates (integer sums per unit, field, month), kept by each submission.
- `aggregate_rebuild`: the aggregates recomputed from the responses (`flask aggregates rebuild`, `check`).
- `index_source`: the one choice of a period's source, the aggregates when complete or the responses.
- `period_weights`: a period's post-stratification weights, from respondents or from their counts.
- `alerts`: units below target and significant drops, with acknowledgements.
- `report_content`: what a unit report says, assembled once for PDF, XLSX and CSV.
- `pdf_report`: the unit report printed by WeasyPrint.
"""
