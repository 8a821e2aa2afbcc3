"""The deployment files: docker-compose.yml, the Dockerfile, .dockerignore and the systemd unit say what the README
promises. ``test_start`` starts them; ``test_tools`` checks them with the ecosystem's own tools."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from monitor.matching import native
from tests.conftest import ROOT, pure_python_sources
from tests.deploy.emulate import Instruction, assignments, exec_command, read_dockerfile, read_unit


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


def test_compose_stops_the_daemon_gracefully() -> None:
    daemon = compose()["services"]["monitor"]
    assert daemon["init"] is True  # tini: SIGTERM reaches the daemon, the parsing workers are reaped
    assert daemon["stop_grace_period"] == "60s"  # what the unit's TimeoutStopSec gives running jobs
    assert read_unit(ROOT / "deploy" / "monitor.service")["Service"]["TimeoutStopSec"] == ["60"]


def stages() -> list[list[Instruction]]:
    return read_dockerfile(ROOT / "Dockerfile")


def arguments(stage: list[Instruction], keyword: str) -> list[str]:
    return [instruction.arguments for instruction in stage if instruction.keyword == keyword]


def test_dockerfile_upgrades_the_schema_then_runs() -> None:
    assert (ROOT / "Dockerfile").read_text(encoding="utf-8").startswith("# ")
    build, final = stages()
    assert arguments(build, "FROM") == ["python:3.11-slim AS build"]
    assert arguments(final, "FROM") == ["python:3.11-slim"]
    (command,) = [instruction.exec_form() for instruction in final if instruction.keyword == "CMD"]
    assert command == ["sh", "-c", "monitor db upgrade && exec monitor run"]
    assert arguments(final, "HEALTHCHECK") and arguments(final, "EXPOSE") == ["9108"]


def test_dockerfile_keeps_the_database_in_a_volume_it_runs_in() -> None:
    final = stages()[-1]
    env = assignments(arguments(final, "ENV"))
    assert arguments(final, "VOLUME") == ["/var/lib/monitor"]
    assert env["STATE_DIRECTORY"] == "/var/lib/monitor" == arguments(final, "WORKDIR")[-1]
    assert env["MONITOR_CONFIG"] == "/etc/monitor/settings.toml"
    assert "settings.toml /etc/monitor/settings.toml" in arguments(final, "COPY")
    # The daemon runs as the monitor user, named by number, who owns the volume's folder.
    (useradd,) = [run for run in arguments(final, "RUN") if run.startswith("useradd")]
    made = re.fullmatch(
        r"useradd --system --uid (\d+) --user-group .* monitor && install -d -o monitor -g monitor -m 0750 (\S+)",
        useradd,
    )
    assert made and made[2] == "/var/lib/monitor" and arguments(final, "USER") == [f"{made[1]}:{made[1]}"]
    keywords = [instruction.keyword for instruction in final]
    assert keywords.index("USER") < keywords.index("VOLUME") < keywords.index("CMD")


def test_dockerfile_compiles_the_matcher_and_fails_without_it() -> None:
    build, final = stages()
    runs = arguments(build, "RUN")
    assert any("apt-get install" in run and " gcc " in run for run in runs)
    assert runs[-1] == "pip wheel --no-deps --wheel-dir /wheels ."
    final_runs = arguments(final, "RUN")
    install = next(index for index, run in enumerate(final_runs) if run.startswith("pip install /wheels/"))
    assert final_runs[install + 1] == "python -m monitor.matching.native"  # right after the install
    # From /, where no source tree stands in for the installed package.
    check = next(index for index, instruction in enumerate(final) if "monitor.matching.native" in instruction.arguments)
    assert all(index > check for index, instruction in enumerate(final) if instruction.keyword == "WORKDIR")


def check_command() -> list[str]:
    final_runs = arguments(stages()[-1], "RUN")
    return shlex.split(next(run for run in final_runs if "monitor.matching.native" in run))


@pytest.mark.integration
def test_the_image_build_check_fails_on_a_pure_python_matcher(tmp_path: Path) -> None:
    program, *rest = check_command()
    env = {**os.environ, "PYTHONPATH": str(pure_python_sources(tmp_path / "pure"))}
    pure = subprocess.run([sys.executable, *rest], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert program == "python" and pure.returncode == 1, pure.stderr
    assert pure.stdout == "matcher: pure Python (about 1.3x slower; install gcc and python3-dev, then reinstall)\n"
    installed = subprocess.run([sys.executable, *rest], cwd=tmp_path, capture_output=True, text=True)
    assert installed.returncode == (0 if native.compiled() else 1), installed.stderr
    assert installed.stdout.startswith(f"matcher: {'compiled' if native.compiled() else 'pure Python'}")


def context(patterns: list[str], path: str) -> bool:
    """Return whether the Docker build context takes ``path`` under .dockerignore's ``patterns`` (last match wins)."""
    taken = True
    for pattern in patterns:
        excluded = not pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        expression = re.escape(body).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        parts = path.split("/")
        if any(re.fullmatch(expression, "/".join(parts[:end])) for end in range(1, len(parts) + 1)):
            taken = not excluded
    return taken


@pytest.mark.parametrize(
    ("path", "taken"),
    [
        ("pyproject.toml", True),
        ("README.md", True),
        ("deploy/compile_hook.py", True),
        ("monitor/cli.py", True),
        ("monitor/matching/text.py", True),
        ("settings.toml", True),
        ("seeds/otan-defense-ministers-2022-06.txt", True),
        ("monitor/matching/text.cpython-311-x86_64-linux-gnu.so", False),  # built for the host's Python
        ("monitor/matching/__pycache__/text.cpython-311.pyc", False),
        (".env", False),  # the compose file's webhook secrets
        (".venv/bin/python", False),
        (".git/config", False),
        ("monitor.db", False),
        ("tests/conftest.py", False),
        ("deploy/monitor.service", False),
    ],
)
def test_dockerignore_sends_only_what_the_image_copies(path: str, taken: bool) -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert context(patterns, path) is taken


def test_dockerignore_keeps_every_source_the_dockerfile_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    sources = [
        source
        for stage in stages()
        for copy in arguments(stage, "COPY")
        if not copy.startswith("--from")
        for source in copy.split()[:-1]
    ]
    assert sources
    for source in sources:
        files = (
            [source]
            if (ROOT / source).is_file()
            else [
                str(path.relative_to(ROOT)) for path in (ROOT / source).rglob("*.*") if "__pycache__" not in path.parts
            ]
        )
        assert all(context(patterns, file) for file in files if not file.endswith(".so")), source


def test_systemd_unit() -> None:
    unit = read_unit(ROOT / "deploy" / "monitor.service")
    service = unit["Service"]
    assert exec_command(service["ExecStartPre"][0]) == ["/opt/monitor/bin/monitor", "db", "upgrade"]
    assert exec_command(service["ExecStart"][0]) == ["/opt/monitor/bin/monitor", "run"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["User"] == ["monitor"] and service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2"]  # bad settings: restarting cannot help
    assert assignments(service["Environment"]) == {"MONITOR_CONFIG": "/etc/monitor/settings.toml"}
    assert service["EnvironmentFile"] == ["-/etc/monitor/environment"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_systemd_unit_writes_only_its_state_folder() -> None:
    service = read_unit(ROOT / "deploy" / "monitor.service")["Service"]
    assert service["StateDirectory"] == ["monitor"]  # /var/lib/monitor, made by systemd, $STATE_DIRECTORY
    assert service["WorkingDirectory"] == ["/var/lib/monitor"]
    assert service["ProtectSystem"] == ["strict"] and "ReadWritePaths" not in service
    assert service["CapabilityBoundingSet"] == [] and service["NoNewPrivileges"] == ["true"]
