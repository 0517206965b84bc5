# syntax=docker/dockerfile:1
# One image for both processes of the service (see docker-compose.yml and docs/deployment.md):
#   worker (default):  python -m worker
#   api:               uvicorn api.main:app --host 0.0.0.0 --port 8000
# No HEALTHCHECK here: the api's health check is declared in docker-compose.yml.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: wheels for the pinned dependencies and for the project itself ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src

# The dependencies first, read from pyproject.toml: this layer is rebuilt only when the pins change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && pip wheel --wheel-dir /wheels --requirement requirements.txt

# Then the code (.dockerignore keeps out .venv, data, caches and .git). Only what pyproject's
# [tool.setuptools] packages / py-modules list goes into the wheel, so tests and docs stay here.
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

# ---- runtime: the installed project, run as an unprivileged user ----
FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DISPUTES_DATA_DIR=/data

RUN groupadd --system --gid 10001 disputes \
    && useradd --system --uid 10001 --gid disputes --home-dir /app --shell /usr/sbin/nologin disputes \
    && mkdir -p /app /data \
    && chown disputes:disputes /app /data

# Install from the wheels only (no index): exactly what the build stage resolved from the pins.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels marketplace-disputes

WORKDIR /app
USER disputes:disputes

# /data holds local evidence files, and the embedded service database when DISPUTES_DATABASE_URL
# is unset; compose mounts one named volume there for api and worker (owned by the user above,
# so a fresh volume starts out writable).
EXPOSE 8000

CMD ["python", "-m", "worker"]
