# syntax=docker/dockerfile:1
#
# Kizuna API image: `kizuna serve` as a non-root user, workers from KIZUNA_WORKERS.
# Containers never start the embedded PostgreSQL: KIZUNA_DATABASE_URL must point at a server.
#
#   docker build -t kizuna .
#   docker run --rm -e KIZUNA_DATABASE_URL=postgresql://kizuna:...@db:5432/kizuna kizuna migrate
#   docker run -d -p 8000:8000 -e KIZUNA_DATABASE_URL=... -e KIZUNA_ISSUER=https://api.example.com kizuna
#
# `serve` never migrates: run `migrate` (same image, other command) before a new version starts.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: install the app and its dependencies into a virtualenv, in a throw-away stage -------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The base image's pip installs into the venv (`--python`), so the venv carries no pip of its own.
RUN python -m venv --without-pip /opt/kizuna
WORKDIR /src
# Only what the wheel is built from (pyproject's readme and the four packages, which carry the
# Alembic trees: env.py, script.py.mako and versions/ as package data; the check below proves
# they were installed, with -I so that /src is not what gets imported).
COPY pyproject.toml README.md ./
COPY api ./api
COPY domain ./domain
COPY infra ./infra
COPY migrations ./migrations
RUN pip --python /opt/kizuna/bin/python install . \
    && /opt/kizuna/bin/python -I -c "import migrations, pathlib; p = pathlib.Path(migrations.__file__).parent; \
assert all((p / t / f).exists() for t in ('control', 'tenant') for f in ('env.py', 'script.py.mako', 'versions'))"

# -- run: slim base and the virtualenv only (no sources, no build tools, no pip); the embedded
#    PostgreSQL wheel is installed as a dependency but never started (see ENTRYPOINT) --------
FROM ${PYTHON_IMAGE} AS run
ENV PATH=/opt/kizuna/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    KIZUNA_HOST=0.0.0.0 KIZUNA_PORT=8000 KIZUNA_WORKERS=2 KIZUNA_LOG_FORMAT=json
RUN groupadd --system --gid 10001 kizuna \
    && useradd --system --uid 10001 --gid kizuna --home-dir /app --no-create-home --shell /usr/sbin/nologin kizuna
COPY --from=build /opt/kizuna /opt/kizuna
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('KIZUNA_PORT', '8000'), timeout=2)"]
# Refuse to start without KIZUNA_DATABASE_URL (unset or empty), then exec so kizuna is PID 1 and
# receives SIGTERM itself (uvicorn stops its workers gracefully).
ENTRYPOINT ["sh", "-c", ": \"${KIZUNA_DATABASE_URL:?KIZUNA_DATABASE_URL must be set: containers never start an embedded database}\"; exec kizuna \"$@\"", "kizuna"]
CMD ["serve"]
