"""The compiled matcher modules: the list the build compiles, and how a stale build is told."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from monitor.matching import native
from tests.conftest import pure_python_sources

ROOT = Path(__file__).parent.parent.parent


def test_the_build_compiles_the_modules_the_package_lists() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    hook = settings["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"]
    assert hook["include"] == [f"monitor/matching/{name}.py" for name in native.COMPILED]
    assert (ROOT / hook["path"]).is_file()


def test_compiled_says_where_each_module_came_from() -> None:
    files = [sys.modules[f"monitor.matching.{name}"].__file__ or "" for name in native.COMPILED]
    assert native.compiled() == all(not file.endswith(".py") for file in files)


def test_a_source_newer_than_its_extension_is_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in native.COMPILED:
        (tmp_path / f"{name}.py").write_text("")
    built = tmp_path / f"text{native.importlib.machinery.EXTENSION_SUFFIXES[0]}"
    built.write_bytes(b"")
    monkeypatch.setattr(native, "__file__", str(tmp_path / "native.py"))
    os.utime(built, (1_000, 1_000))
    os.utime(tmp_path / "text.py", (2_000, 2_000))
    assert native.stale() == ["text"]
    os.utime(built, (3_000, 3_000))
    assert native.stale() == []  # rebuilt; the other modules have no extension, so nothing to be stale


# Each build without a compiler, and what it says: both run at once, as each spends its time waiting on pip.
PURE_BUILDS = [
    ({"CC": "false"}, "compiling the matcher failed, it stays pure Python"),  # no working C compiler
    ({"MONITOR_PURE_PYTHON": "1"}, "MONITOR_PURE_PYTHON is set"),
]


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_without_a_compiler_the_package_builds_as_pure_python(tmp_path: Path) -> None:
    builds = []
    for number, (environment, said) in enumerate(PURE_BUILDS):
        source, wheels, log = tmp_path / f"source{number}", tmp_path / f"wheels{number}", tmp_path / f"{number}.log"
        source.mkdir()  # a tree of its own: pip builds in the source tree
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source / name)
        for folder in ("deploy", "monitor"):
            shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
        with log.open("w", encoding="utf-8") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(wheels), str(source)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, **environment},
            )
        builds.append((process, wheels, log, said))
    for process, wheels, log, said in builds:
        assert process.wait(timeout=540) == 0, log.read_text(encoding="utf-8")[-6000:]
        assert said in log.read_text(encoding="utf-8")
        (wheel,) = wheels.glob("*.whl")
        assert wheel.name.endswith("-py3-none-any.whl")
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
        assert "monitor/matching/text.py" in names
        assert not [name for name in names if name.endswith(".so")]
        assert "monitor/matching/forms/ru.forms" in names  # the word-form tables travel with the package


def test_the_matcher_runs_compiled_where_the_install_compiled_it() -> None:
    if os.environ.get("MONITOR_EXPECT_COMPILED") != "1":
        pytest.skip("MONITOR_EXPECT_COMPILED=1 says the install compiled the matcher (CI sets it)")
    assert native.compiled(), [sys.modules[f"monitor.matching.{name}"].__file__ for name in native.COMPILED]


@pytest.mark.parametrize(
    ("compiled", "line"),
    [
        (True, "compiled (mypyc)"),
        (False, "pure Python (about 1.3x slower; install gcc and python3-dev, then reinstall)"),
    ],
)
def test_describe_says_how_the_matcher_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], compiled: bool, line: str
) -> None:
    monkeypatch.setattr(native, "compiled", lambda: compiled)
    assert native.describe() == line
    assert native.main() == (0 if compiled else 1)
    assert capsys.readouterr().out == f"matcher: {line}\n"


def test_an_installed_matcher_is_not_called_stale_for_its_unpacking_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pip unpacks a wheel's files one after another, each with the time it was written: a source a moment newer
    # than its extension module means nothing outside a working copy.
    for name in native.COMPILED:
        built, source = tmp_path / f"{name}{native.importlib.machinery.EXTENSION_SUFFIXES[0]}", tmp_path / f"{name}.py"
        built.write_bytes(b"")
        source.write_text("")
        os.utime(built, (1_000.0, 1_000.0))
        os.utime(source, (1_000.001, 1_000.001))
    monkeypatch.setattr(native, "__file__", str(tmp_path / "native.py"))
    monkeypatch.setattr(native, "compiled", lambda: True)
    assert native.stale() and native.describe() == "compiled (mypyc)"


PURE = "matcher: pure Python (about 1.3x slower; install gcc and python3-dev, then reinstall)"


def check_and_run(tmp_path: Path, pure: bool) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """Return what ``monitor check`` prints and how ``monitor run --once`` went, on an installed or pure matcher."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MONITOR_")}
    if pure:
        env["PYTHONPATH"] = str(pure_python_sources(tmp_path / "pure"))
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n[seeds]\nenabled = false\n', "utf-8")
    results = [
        subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(settings), *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for command in (["check"], ["run", "--once"])
    ]
    assert [result.returncode for result in results] == [0, 0], [result.stderr for result in results]
    return results[0].stdout.splitlines(), results[1]


@pytest.mark.integration
def test_a_pure_python_matcher_is_said_by_check_and_run(tmp_path: Path) -> None:
    check, run = check_and_run(tmp_path, pure=True)
    assert PURE in check
    said = [line.split(" ", 2)[2] for line in run.stderr.splitlines() if "matcher:" in line]  # after the time
    assert said == [f"WARNING monitor: {PURE}"]


@pytest.mark.integration
def test_the_installed_matcher_is_said_by_check_and_run(tmp_path: Path) -> None:
    check, run = check_and_run(tmp_path, pure=False)
    assert f"matcher: {native.describe()}" in check
    assert ("matcher:" in run.stderr) is not native.compiled(), run.stderr
