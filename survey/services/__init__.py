"""Business rules and queries, grouped by domain. Services take plain arguments, flush for ids and
never commit (the view or CLI command commits once).

- `citizens`: which survey a QR code opens, validating and storing a citizen's answers once.
- `staff`: staff accounts, passwords, two-factor codes, sessions, scopes (access), API clients, audit log.
- `organisation`: the unit tree, its CSV import, and what each unit is measured with and against.
- `qr`: counters, their signed QR tokens, QR images and printable posters.
- `weighting`: served-dossier frames (the totals the weights are calibrated to) and response rates.
- `reporting`: periods, the indices a manager sees, alerts, and the unit report in every format.
- `disclosure`: what leaves the database: CSV/XLSX tables and the comment scrubber.
"""
