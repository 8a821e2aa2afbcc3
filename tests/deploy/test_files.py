"""The deployment files: docker-compose.yml, the Dockerfile and the systemd unit say what the README promises."""

from __future__ import annotations

import configparser
import re
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from tests.conftest import ROOT


def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_compose_runs_the_daemon_on_postgresql_16_with_a_volume() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "monitor"}
    db, daemon = services["db"], services["monitor"]
    assert db["image"] == "postgres:16"
    assert "db-data:/var/lib/postgresql/data" in db["volumes"]
    assert "db-data" in compose()["volumes"]
    assert daemon["build"] == "."
    assert daemon["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "/healthz" in " ".join(daemon["healthcheck"]["test"])


def test_compose_wires_the_database_and_the_settings() -> None:
    services = compose()["services"]
    db, daemon = services["db"]["environment"], services["monitor"]["environment"]
    url = make_url(re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", daemon["MONITOR_DATABASE_URL"]))
    assert url.drivername == "postgresql+psycopg" and url.host == "db" and url.port == 5432
    assert url.database == db["POSTGRES_DB"] and url.username == db["POSTGRES_USER"]
    assert "${POSTGRES_PASSWORD" in daemon["MONITOR_DATABASE_URL"] and "${POSTGRES_PASSWORD" in db["POSTGRES_PASSWORD"]
    mounts = {volume.split(":")[1]: volume for volume in services["monitor"]["volumes"]}
    assert mounts[daemon["MONITOR_CONFIG"]].startswith("./settings.toml:") and mounts[
        daemon["MONITOR_CONFIG"]
    ].endswith(":ro")
    assert daemon.get("MONITOR_LISTEN", "").endswith(":9108")
    assert any(port.endswith(":9108") for port in services["monitor"]["ports"])


def test_dockerfile_upgrades_the_schema_then_runs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("# ") and "FROM python:3.11" in dockerfile
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "monitor db upgrade" in command and "exec monitor run" in command
    assert "USER monitor" in dockerfile and "HEALTHCHECK" in dockerfile


def test_systemd_unit() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "monitor.service", encoding="utf-8")
    service = unit["Service"]
    assert service["ExecStart"].endswith("monitor run")
    assert service["ExecStartPre"].endswith("monitor db upgrade")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["User"] == "monitor" and service["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
