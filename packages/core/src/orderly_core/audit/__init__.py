"""Reading the audit trail (the trail itself is written by :mod:`orderly_core.platform.audit`)."""
