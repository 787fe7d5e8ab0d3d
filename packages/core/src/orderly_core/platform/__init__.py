"""What every context builds on: the transaction rule, idempotency keys, the audit trail and
the outbox, and the clock and id ports."""
