# Precedent: PostgreSQL + S3 deployments run this image; the embedded default (SQLite + /data) works too.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PRECEDENT_DATA_DIR=/data \
    PRECEDENT_HOST=0.0.0.0 \
    PRECEDENT_PORT=8000

RUN useradd --system --uid 10001 --create-home --home-dir /home/precedent precedent \
    && mkdir -p /data && chown precedent:precedent /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY schemas ./schemas
COPY evidence_store ./evidence_store
COPY migrations ./migrations
RUN pip install . && rm -rf /root/.cache

USER precedent
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"

ENTRYPOINT ["precedent", "serve"]
