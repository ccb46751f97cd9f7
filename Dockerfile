# syntax=docker/dockerfile:1
# Build: wheels of the app and its dependencies, in a throw-away stage with the compilers.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
COPY domain ./domain
COPY infra ./infra
COPY migrations ./migrations
RUN pip wheel --wheel-dir /wheels .

# Run: slim, non-root, no embedded database (containers point KIZUNA_DATABASE_URL at a server).
FROM python:3.11-slim-bookworm AS run
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KIZUNA_HOST=0.0.0.0 KIZUNA_PORT=8000 KIZUNA_WORKERS=2 KIZUNA_LOG_FORMAT=json
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels kizuna==0.1.0 && rm -rf /wheels \
    && useradd --system --uid 10001 --no-create-home kizuna
USER 10001
WORKDIR /home/kizuna
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
# KIZUNA_DATABASE_URL is required: the entrypoint refuses to start without it.
ENTRYPOINT ["sh", "-c", ": \"${KIZUNA_DATABASE_URL:?KIZUNA_DATABASE_URL must be set}\" && exec kizuna \"$@\"", "kizuna"]
CMD ["serve"]
