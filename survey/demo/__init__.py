"""Demo data for trying the product (`flask seed demo`); never used by the running service itself.

- `tree`: a small demo province with units, counters and staff accounts. Idempotent.
- `province`: a richer province with a year of simulated responses and frames.
"""
