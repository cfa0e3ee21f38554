"""What leaves the database, made safe on the way out.

- `exports`: tables as CSV and XLSX with formula neutralisation.
- `scrubber`: typed placeholders for personal data in free-text comments.
"""
