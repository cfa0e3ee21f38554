"""Business rules and queries. Services take plain arguments, flush for ids and never commit."""
