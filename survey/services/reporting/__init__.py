"""Indices as managers see them, and the reports made from them.

- `periods`: calendar periods (month, quarter, year) and trend windows.
- `respondent_data`: respondents out of the database, shaped for `analysis`.
- `indices`: the one place the web calls `analysis` (intervals, verdicts, trends, change).
- `index_cache`: per-process caches of index results keyed by a fingerprint of their inputs.
- `alerts`: units below target and significant drops, with acknowledgements.
- `small_cells`: which units' figures every table hides (small counts and their complements).
- `viewer_cells`: that decision made once per viewer, on the trees of their scope's roots.
- `report_content`: what a unit report says, assembled once for PDF, XLSX and CSV.
- `pdf_report`: the unit report printed by WeasyPrint.
"""
