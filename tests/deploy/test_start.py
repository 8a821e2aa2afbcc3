"""The systemd unit and the Docker image start as written, on the sample settings, without systemd or Docker.

Each test lays out a file system the way the install steps do (the sample settings and seeds under a read-only
``/etc/monitor``, the state folder writable), gives the commands the environment, working folder and sandbox the
runtime would, runs the database upgrade to completion, starts the daemon, reads ``/healthz`` and stops it with
SIGTERM. The sample's feeds are served from 127.0.0.1; everything else is the sample as shipped.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import FIXTURES, ROOT, LoopbackServer
from tests.daemon import wait_for
from tests.deploy.emulate import (
    SYSTEMD_PATH,
    Instruction,
    Layout,
    assignments,
    confined,
    exec_command,
    installed_command,
    read_dockerfile,
    read_only_enforced,
    read_unit,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
UNIT = ROOT / "deploy" / "monitor.service"
SEED_ALERTS = ("ALERT [NATO summit] Renforcer le soutien", "ALERT [Donbass] Renforcer le soutien")


@pytest.fixture(autouse=True)
def _installed() -> None:
    if not installed_command().exists():
        pytest.skip(f"no monitor command beside {installed_command().parent}: install the package (pip install -e .)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample_settings(server: LoopbackServer) -> str:
    """Return the sample settings with each feed's URL served by ``server`` from a fixture feed."""
    urls = iter(range(100))

    def local(_match: re.Match[str]) -> str:
        path = f"/feed{next(urls)}.xml"
        server.serve_file(path, FIXTURES / "feeds" / "rss2.xml")
        return f'url = "{server.url(path)}"'

    text, count = re.subn(r'^url = "https?://[^"]+"', local, (ROOT / "settings.toml").read_text("utf-8"), flags=re.M)
    assert count >= 3, "the sample settings have feeds"
    return text


def install_settings(layout: Layout, config: str, text: str) -> Path:
    """Put the settings and the sample seeds where the install steps put them; return the settings' folder."""
    settings = layout.path(config)
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(text, encoding="utf-8")
    layout.copy(ROOT / "seeds", str(Path(config).parent / "seeds"))
    return settings.parent


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


class Started:
    """A daemon started from a deploy file's command, its output in files."""

    def __init__(self, command: Sequence[str], cwd: Path, env: Mapping[str, str], logs: Path) -> None:
        self.stdout, self.stderr = logs / "stdout", logs / "stderr"
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=out, stderr=err)

    def output(self) -> str:
        return self.stdout.read_text("utf-8") + self.stderr.read_text("utf-8")

    def healthz(self, port: int, seconds: float = 90) -> httpx.Response:
        """Return the first answer of /healthz; fail with the daemon's output if it exits or never answers."""
        deadline = time.monotonic() + seconds
        while True:
            assert self.process.poll() is None, f"exited {self.process.returncode}: {self.output()}"
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.TransportError:
                assert time.monotonic() < deadline, self.output()
                time.sleep(0.1)

    def terminate(self, seconds: float) -> int:
        """Send SIGTERM, as the runtime does to stop it; return the exit code (killed and failed past ``seconds``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"still running {seconds:g} s after SIGTERM: {self.output()}") from None


@pytest.fixture
def started() -> Iterator[list[Started]]:
    """Collect the daemons a test starts, and kill whichever is still running when it ends."""
    daemons: list[Started] = []
    yield daemons
    for daemon in daemons:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(timeout=10)


# ------------------------------------------------------------------------------------------------ systemd


def unit_service(layout: Layout, settings_text: str, environment_file: str) -> tuple[dict[str, list[str]], Path]:
    """Lay out what the unit's install steps and systemd provide; return the unit's [Service] and its state folder."""
    service = read_unit(UNIT)["Service"]
    for line in service["ExecStartPre"] + service["ExecStart"]:
        program = exec_command(line)[0]
        if not layout.path(program).exists():
            layout.install_command(program)
    install_settings(layout, assignments(service["Environment"])["MONITOR_CONFIG"], settings_text)
    for line in service["EnvironmentFile"]:
        path = layout.path(line.lstrip("-"))
        path.write_text(environment_file, encoding="utf-8")
        path.chmod(0o600)
    (name,) = service["StateDirectory"]
    state = layout.path(f"/var/lib/{name}")
    state.mkdir(parents=True, mode=int(service.get("StateDirectoryMode", ["0755"])[0], 8))
    return service, state


def unit_environment(service: dict[str, list[str]], layout: Layout, state: Path) -> dict[str, str]:
    """Return the environment systemd gives the unit's commands: its own, its file's, and $STATE_DIRECTORY."""
    (user,) = service["User"]
    env = {"PATH": SYSTEMD_PATH, "USER": user, "LOGNAME": user, "HOME": str(state), "STATE_DIRECTORY": str(state)}
    env.update({name: layout.value(value) for name, value in assignments(service["Environment"]).items()})
    for line in service["EnvironmentFile"]:
        text = layout.path(line.lstrip("-")).read_text("utf-8")
        env.update(assignments([line for line in text.splitlines() if line and not line.startswith("#")]))
    return env


def unit_command(line: str, service: dict[str, list[str]], layout: Layout, state: Path) -> list[str]:
    """Return an ``Exec*=`` line's command in the layout, in the unit's sandbox."""
    program, *arguments = exec_command(line)
    yes = ("true", "yes", "1", "on")
    return confined(
        [str(layout.path(program)), *arguments],
        layout,
        writable=[state],
        umask=service.get("UMask", ["0022"])[0],
        no_new_privileges=service.get("NoNewPrivileges", ["no"])[0] in yes,
        deny_write_execute=service.get("MemoryDenyWriteExecute", ["no"])[0] in yes,
    )


def test_the_unit_upgrades_the_database_in_its_state_folder_then_serves(
    tmp_path: Path, loopback: LoopbackServer, started: list[Started]
) -> None:
    port = free_port()
    layout = Layout(tmp_path / "root")
    service, state = unit_service(layout, sample_settings(loopback), f"MONITOR_LISTEN=127.0.0.1:{port}\n")
    config = layout.path("/etc/monitor")
    before = listing(config)
    enforced = read_only_enforced(layout, [state])
    env = unit_environment(service, layout, state)
    (workdir,) = service["WorkingDirectory"]
    cwd = layout.path(workdir)
    assert cwd.is_dir(), "systemd fails a unit whose working folder is missing (status 200/CHDIR)"

    for line in service["ExecStartPre"]:
        done = subprocess.run(unit_command(line, service, layout, state), cwd=cwd, env=env, capture_output=True)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        assert f"database sqlite:///{state}/monitor.db: schema upgraded" in done.stdout.decode()
    assert (state / "monitor.db").is_file()

    (line,) = service["ExecStart"]
    daemon = Started(unit_command(line, service, layout, state), cwd, env, tmp_path)
    started.append(daemon)
    answer = daemon.healthz(port)
    assert (answer.status_code, answer.json()["database"]) == (200, "ok"), answer.text
    assert wait_for(lambda: all(alert in daemon.output() for alert in SEED_ALERTS), 60), daemon.output()
    assert wait_for(lambda: all(loopback.hits.get(f"/feed{n}.xml") for n in range(4)), 60), loopback.hits

    (reload,) = service["ExecReload"]
    assert subprocess.run(exec_command(reload.replace("$MAINPID", str(daemon.process.pid)))).returncode == 0
    assert wait_for(lambda: "received SIGHUP" in daemon.output(), 30), daemon.output()
    assert daemon.process.poll() is None

    (stop_after,) = service["TimeoutStopSec"]
    assert daemon.terminate(float(stop_after)) == 0, daemon.output()
    assert listing(config) == before, "the daemon wrote in /etc/monitor"
    assert "Read-only file system" not in daemon.output()
    assert enforced or pytest.skip("ran as root without a mount namespace: /etc/monitor was writable")


def test_bad_settings_exit_2_and_the_unit_does_not_restart_on_it(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "root")
    text = (ROOT / "settings.toml").read_text("utf-8").replace('poll_interval = "15m"', 'poll_interval = "soon"')
    service, state = unit_service(layout, text, "")
    env = unit_environment(service, layout, state)
    cwd = layout.path(service["WorkingDirectory"][0])

    for line in service["ExecStartPre"] + service["ExecStart"]:
        done = subprocess.run(unit_command(line, service, layout, state), cwd=cwd, env=env, capture_output=True)
        assert done.returncode == 2, done.stderr.decode()
        assert "settings.toml: scheduler.poll_interval: invalid duration 'soon'" in done.stderr.decode()
    assert service["Restart"] == ["on-failure"]
    assert "2" in service["RestartPreventExitStatus"][0].split()
    assert listing(state) == []


# ------------------------------------------------------------------------------------------------ Docker


def image(layout: Layout, settings_text: str) -> tuple[list[Instruction], dict[str, str], list[Path]]:
    """Lay out the image's last stage; return its instructions, its environment and its volumes."""
    final = read_dockerfile(ROOT / "Dockerfile")[-1]
    for instruction in final:
        if instruction.keyword == "COPY" and not instruction.arguments.startswith("--"):
            source, target = instruction.arguments.split()
            if source == "settings.toml":
                install_settings(layout, target, settings_text)
            elif not layout.path(target).exists():
                layout.copy(ROOT / source, target)
    layout.install_command("/usr/local/bin/monitor")  # where pip puts it in the base image
    layout.path("/usr/local/bin/python").symlink_to(sys.executable)  # the health check's
    env = {"PATH": f"{layout.path('/usr/local/bin')}:/usr/bin:/bin"}
    for instruction in final:
        if instruction.keyword == "ENV":
            env.update({name: layout.value(value) for name, value in assignments([instruction.arguments]).items()})
    volumes = [
        layout.path(folder)
        for instruction in final
        if instruction.keyword == "VOLUME"
        for folder in (
            instruction.exec_form() if instruction.arguments.startswith("[") else instruction.arguments.split()
        )
    ]
    for volume in volumes:
        volume.mkdir(parents=True, exist_ok=True)
    return final, env, volumes


def healthchecks(final: list[Instruction], port: int) -> list[list[str]]:
    """Return the image's and the compose file's health check commands, for a daemon listening on ``port``."""
    (check,) = [instruction for instruction in final if instruction.keyword == "HEALTHCHECK"]
    commands = [Instruction("CMD", check.arguments.split(" CMD ", 1)[1]).exec_form()]
    test = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))["services"]["monitor"]["healthcheck"]
    assert test["test"][0] == "CMD"
    commands.append(test["test"][1:])
    return [[word.replace(":9108/", f":{port}/") for word in command] for command in commands]


def test_the_image_upgrades_the_database_in_its_volume_then_serves(
    tmp_path: Path, loopback: LoopbackServer, started: list[Started]
) -> None:
    port = free_port()
    layout = Layout(tmp_path / "root")
    final, env, volumes = image(layout, sample_settings(loopback))
    env["MONITOR_LISTEN"] = f"127.0.0.1:{port}"  # docker run -e MONITOR_LISTEN=...
    config = layout.path("/etc/monitor")
    before = listing(config)
    enforced = read_only_enforced(layout, volumes)
    workdir = [instruction.arguments for instruction in final if instruction.keyword == "WORKDIR"][-1]
    (cmd,) = [instruction.exec_form() for instruction in final if instruction.keyword == "CMD"]

    daemon = Started(confined(cmd, layout, volumes, no_new_privileges=False), layout.path(workdir), env, tmp_path)
    started.append(daemon)
    answer = daemon.healthz(port)
    assert (answer.status_code, answer.json()["database"]) == (200, "ok"), answer.text
    assert (layout.path("/var/lib/monitor") / "monitor.db").is_file()
    assert wait_for(lambda: all(alert in daemon.output() for alert in SEED_ALERTS), 60), daemon.output()
    for command in healthchecks(final, port):
        check = subprocess.run(command, env=env, cwd=layout.path(workdir), capture_output=True)
        assert check.returncode == 0, (command, check.stderr.decode())

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))["services"]["monitor"]
    assert daemon.terminate(float(compose["stop_grace_period"].removesuffix("s"))) == 0, daemon.output()
    assert listing(config) == before, "the daemon wrote in /etc/monitor"
    assert enforced or pytest.skip("ran as root without a mount namespace: /etc/monitor was writable")
