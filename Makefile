# Orderly's everyday commands. `bash .ci/run` is the whole CI (it installs what a fresh
# machine lacks, then runs `check` and `test`).

.PHONY: check test-fast test mutation

## Lint, format check, mypy --strict and the import contracts.
check:
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy packages tests bench scripts examples
	uv run lint-imports

## The core's use cases on the in-memory fakes only, and the import-cycle check: no
## PostgreSQL, no Redis, seconds.
test-fast:
	uv run pytest tests/core tests/test_architecture.py --no-servers -q

## The whole suite, as the README runs it (embedded PostgreSQL and Redis).
test:
	uv run pytest

## Mutation testing of the core's rule modules against the fast core tests (docs/mutation.md):
## a fresh run in .mutation/, then the kill rate of each module and the mutants left alive.
## CPU-heavy; MUTATION_CHILDREN (default 2) caps the parallel test runs.
MUTATION_CHILDREN ?= 2
mutation:
	rm -rf .mutation
	mkdir -p .mutation
	ln -s ../packages/core/src .mutation/src
	ln -s ../tests .mutation/tests
	ln -s ../pyproject.toml .mutation/pyproject.toml
	cd .mutation && uv run --project .. mutmut run --max-children $(MUTATION_CHILDREN) > mutmut.log
	cd .mutation && uv run --project .. mutmut results --all true > results.txt
	uv run python scripts/mutation_summary.py < .mutation/results.txt
