# The monitor daemon. Build: docker build -t monitor .
# Run it on SQLite, the database in a volume:  docker run -d --name monitor -v monitor-data:/var/lib/monitor \
#   -v "$PWD/settings.toml:/etc/monitor/settings.toml:ro" -p 127.0.0.1:9108:9108 monitor
# On PostgreSQL: see docker-compose.yml.

# The build stage compiles the matcher's hot modules to C (mypyc) into a wheel; only the wheel goes further.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The base image's Debian release pins gcc and the C headers; the image is rebuilt, not patched, to update them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY deploy/compile_hook.py deploy/
COPY monitor monitor
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
# STATE_DIRECTORY: a relative SQLite file in the settings (the sample's monitor.db) goes in the volume, as under
# systemd's StateDirectory=; MONITOR_LISTEN: /healthz and /metrics reachable through a published port.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MONITOR_CONFIG=/etc/monitor/settings.toml \
    STATE_DIRECTORY=/var/lib/monitor \
    MONITOR_LISTEN=0.0.0.0:9108

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /var/lib/monitor \
        --shell /usr/sbin/nologin monitor \
    && install -d -o monitor -g monitor -m 0750 /var/lib/monitor
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
# Fails the build when the matcher did not compile, rather than ship one about 1.3 times slower.
RUN python -m monitor.matching.native

# The sample settings and seeds; mount your own settings file over /etc/monitor/settings.toml.
COPY settings.toml /etc/monitor/settings.toml
COPY seeds /etc/monitor/seeds

# The monitor user (10001), by number so that a runtime can tell it is not root.
USER 10001:10001
WORKDIR /var/lib/monitor
VOLUME /var/lib/monitor
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4).status != 200)"]

# Bring the schema up to date, then run the daemon (it refuses to start on a schema that is behind).
CMD ["sh", "-c", "monitor db upgrade && exec monitor run"]
