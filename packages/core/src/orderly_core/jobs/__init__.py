"""Background jobs: their payloads, their records in PostgreSQL, and retrying them."""
