"""Staff and access: who may sign in, and what they may see and do.

- `accounts`: sign-in checks and the admin operations on accounts.
- `passwords`: argon2id hashing and rehash on login.
- `totp`: time-based one-time codes and their enrolment QR.
- `staff_sessions`: server-side sessions that logout and deactivation really end.
- `access`: the one scope rule (a subtree per manager or researcher) every page and export shares.
- `api_clients`: bearer tokens of machine clients, stored only as hashes.
- `audit`: the append-only log of changes and denied accesses.
- `audit_log`: reading that log: filters, pages and the CSV export, scoped like every other page.
"""
