# deidentify: one image for the regional sidecar (`deidentify run`), the central collector
# (`deidentify central`) and the synthetic generator (`deidentify generate`).
#
#   docker build -t deidentify .
#   docker run --rm deidentify schema check
#
# Schemas are baked in at /app/schemas (DEIDENTIFY_SCHEMAS); mount your own folder over it to
# change the allowlist. Runs as an unprivileged user; nothing is written inside the image.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY deidentify ./deidentify
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin deid
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY schemas /app/schemas
ENV DEIDENTIFY_SCHEMAS=/app/schemas \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
# sidecar health/metrics (8080 by default), central dashboard/metrics (8090)
EXPOSE 8080 8090
HEALTHCHECK NONE
ENTRYPOINT ["deidentify"]
CMD ["--help"]
