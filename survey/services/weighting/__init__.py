"""Served-dossier frames: the totals each unit's respondents are weighted to.

- `frame_rows`: reading counts from CSV or an API body into checked rows (no database).
- `frames`: atomic import of checked rows, and response rates.
- `frame_warnings`: what an accepted upload will not weight as expected (partial breakdowns, merged cells).
- `frame_levels`: which rows of a unit's frame count (total or breakdown, never both) and which disagree.
"""
