# The monitor daemon. Build: docker build -t monitor .   Run: see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MONITOR_CONFIG=/etc/monitor/settings.toml

RUN useradd --system --create-home --home-dir /var/lib/monitor --shell /usr/sbin/nologin monitor

WORKDIR /opt/monitor
COPY pyproject.toml README.md ./
COPY deploy ./deploy
COPY monitor ./monitor
# gcc compiles the matcher's hot modules (mypyc) during the install; it is removed again afterwards.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install . \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

# The sample settings and seeds; mount your own settings file over /etc/monitor/settings.toml.
COPY settings.toml /etc/monitor/settings.toml
COPY seeds /etc/monitor/seeds

USER monitor
WORKDIR /var/lib/monitor
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4).status != 200)"

# Bring the schema up to date, then run the daemon (it refuses to start on a schema that is behind).
CMD ["sh", "-c", "monitor db upgrade && exec monitor run"]
