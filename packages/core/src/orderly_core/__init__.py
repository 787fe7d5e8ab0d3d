"""Orderly's core: domain types and use cases, free of any web, database, queue or CLI framework.

Every use case takes an explicit :class:`~orderly_core.shared.context.Context` and returns a
``returns.result.Result`` whose failure side is a closed union of typed domain errors.
"""
