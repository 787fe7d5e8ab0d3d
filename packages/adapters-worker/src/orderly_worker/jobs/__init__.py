"""The jobs the worker runs, one module per domain word; each calls exactly one use case."""
