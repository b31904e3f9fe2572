# One image for the API, the workers and the one-shot `kickoff-admin migrate` (docker-compose.yml
# picks the command).
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --create-home --uid 10001 kickoff && mkdir /data && chown kickoff /data
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .
COPY pipelines.yaml ./
USER kickoff
ENV KICKOFF_DATA_DIR=/data
# API; a worker's Prometheus metrics and its /healthz and /readyz (docs/production.md).
EXPOSE 8000 9464 9465
CMD ["uvicorn", "--factory", "kickoff.api:app_from_env", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
