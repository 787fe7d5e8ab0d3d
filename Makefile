# Orderly's everyday commands. `bash .ci/run` is the whole CI (it installs what a fresh
# machine lacks, then runs `check` and `test`).

.PHONY: check test-fast test

## Lint, format check, mypy --strict and the import contracts.
check:
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy packages tests bench
	uv run lint-imports

## The core's use cases on the in-memory fakes only, and the import-cycle check: no
## PostgreSQL, no Redis, seconds.
test-fast:
	uv run pytest tests/core tests/test_architecture.py --no-servers -q

## The whole suite, as the README runs it (embedded PostgreSQL and Redis).
test:
	uv run pytest
