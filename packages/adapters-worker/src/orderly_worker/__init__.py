"""Orderly's background worker: the arq settings, the jobs, and the boundary that decides
what a failure becomes (a result, a retry or a dead letter)."""
