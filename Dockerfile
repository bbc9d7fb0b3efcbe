# syntax=docker/dockerfile:1
# jobsvc: build a virtual environment in one stage, run it as a non-root user in the next.
# tests/e2e/test_packaging.py runs this file's install steps in a fresh virtual environment,
# and the CMD and HEALTHCHECK commands against the result.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY jobsvc ./jobsvc
RUN python -m venv /opt/jobsvc && /opt/jobsvc/bin/pip install --no-cache-dir --upgrade pip && /opt/jobsvc/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 jobsvc \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/jobsvc jobsvc
COPY --from=build /opt/jobsvc /opt/jobsvc
ENV PATH=/opt/jobsvc/bin:$PATH \
    JOBSVC_DATA_DIR=/home/jobsvc/pgdata \
    PYTHONUNBUFFERED=1
# Numeric, so that Kubernetes' runAsNonRoot can verify it without a runAsUser.
USER 10001:10001
WORKDIR /home/jobsvc
# gRPC, and HTTP: the API over HTTP/JSON (Connect) and the dashboard at /.
EXPOSE 50051
EXPOSE 8080
# The gRPC health service answers SERVING only once the database is reachable and
# migrations are applied, and NOT_SERVING while draining.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["jobsvc", "health", "--server", "127.0.0.1:50051"]
# Exec form: jobsvc is PID 1 and gets SIGTERM itself. A graceful stop takes up to
# --drain-delay (5 s) + --shutdown-grace (10 s) + 2 s: stop with `docker stop --time 30`
# (docker's default of 10 s would SIGKILL it half-way).
ENTRYPOINT ["jobsvc"]
# Without JOBSVC_DATABASE_URL the container runs its own embedded PostgreSQL in
# JOBSVC_DATA_DIR (mount a volume there); in production, point it at your database.
CMD ["serve", "--host", "0.0.0.0", "--port", "50051", "--http-port", "8080", "--handlers", "jobsvc.examples"]
