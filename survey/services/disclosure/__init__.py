"""What leaves the database, made safe on the way out.

- `exports`: tables as CSV and XLSX with formula neutralisation.
- `scrubber`: typed placeholders for personal data in free-text comments.
- `microdata`: anonymised, weighted respondent rows for researchers, through disclosure control.
- `microdata_variables`: labels, value labels and missing codes of each exported column.
- `microdata_files`: the microdata as CSV, XLSX, SPSS, Stata or Parquet, with the codebook beside it.
- `codebook`: the codebook (JSON and Markdown) written beside every microdata export.
"""
