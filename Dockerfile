# syntax=docker/dockerfile:1
# The service image: `docker build -t viewing-time-service .` (deploy/README.md).
# Build stage: the runtime dependencies into a virtualenv. Final stage: that virtualenv and the
# source, nothing else: no compiler, no pip in the venv, no tests, run as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml ./
# The project itself runs from /app (migrations/ and alembic.ini sit beside it), so what goes in
# is its [project] dependencies as pyproject.toml lists them, and none of its extras: the
# embedded PostgreSQL of `make run` (the `embedded` extra) stays out. The venv is created
# without pip and the base image's pip (--python: pip 22.3 or later) installs into it, so the
# venv never holds an installer. Wheels only: no build tools, even here.
RUN python -c "import tomllib; \
      project = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
      print(*project['dependencies'], sep='\n')" > requirements.txt \
 && python -m venv --without-pip /opt/venv \
 && python -m pip --python /opt/venv/bin/python install --only-binary :all: -r requirements.txt

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="viewing-time-service" \
      org.opencontainers.image.description="Per-child daily viewing-time limits and the heartbeat that enforces them"
# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can check it without /etc/passwd.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini containers.py ./
COPY app ./app
COPY migrations ./migrations
# Compile once at build time: the root filesystem is read-only at run time.
RUN python -m compileall -q /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8000
# /healthz only: liveness of this process. Readiness (/readyz) is the orchestrator's business.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# One worker per container: scale with replicas. DATABASE_URL and JWT_SECRET come from the
# environment; `docker run IMAGE migrate` applies the migrations with the same image.
ENTRYPOINT ["python", "-m", "app"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
