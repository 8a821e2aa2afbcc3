"""pyproject.toml declares what the package imports, with lower bounds that CI installs and tests (.ci/floors.txt)."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT


def project() -> dict[str, Any]:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(settings["project"])


def requirements() -> list[Requirement]:
    return [Requirement(line) for line in project()["dependencies"]]


def pinned() -> list[Requirement]:
    """Return the requirements whose lower bounds .ci/floors.txt pins: the dependencies and the bench extra."""
    return requirements() + [Requirement(line) for line in project()["optional-dependencies"]["bench"]]


def floors() -> dict[str, Version]:
    """Return the pins of .ci/floors.txt by package name."""
    pins: dict[str, Version] = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            (pin,) = requirement.specifier
            assert pin.operator == "==", line
            pins[canonicalize_name(requirement.name)] = Version(pin.version)
    return pins


def lower_bound(requirement: Requirement) -> Version:
    (bound,) = [spec for spec in requirement.specifier if spec.operator == ">="]
    return Version(bound.version)


@pytest.mark.parametrize("requirement", pinned(), ids=lambda requirement: requirement.name)
def test_each_lower_bound_is_pinned_in_the_floors(requirement: Requirement) -> None:
    pins = floors()
    assert pins[canonicalize_name(requirement.name)] == lower_bound(requirement)
    for extra in requirement.extras:  # psycopg[binary] brings psycopg-binary at the same version
        assert pins[canonicalize_name(f"{requirement.name}-{extra}")] == lower_bound(requirement)


def test_the_floors_pin_nothing_else() -> None:
    declared = {canonicalize_name(r.name) for r in pinned()}
    declared |= {canonicalize_name(f"{r.name}-{extra}") for r in pinned() for extra in r.extras}
    assert set(floors()) == declared


def test_the_tests_install_what_the_bench_compares_with() -> None:
    # tests/test_match_bench.py runs the comparison, so CI (which installs the test extra) runs it too.
    extras = project()["optional-dependencies"]
    assert set(extras["bench"]) <= set(extras["test"])


def imported_packages() -> set[str]:
    """Return the top-level names the package imports that are neither its own nor the standard library's."""
    names: set[str] = set()
    for path in (ROOT / "monitor").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "monitor"}


def test_every_imported_package_is_declared() -> None:
    declared = {canonicalize_name(r.name) for r in requirements()}
    providers = packages_distributions()
    missing = {
        name: providers.get(name, ["not installed"])
        for name in imported_packages()
        if not {canonicalize_name(dist) for dist in providers.get(name, [])} & declared
    }
    assert not missing, f"imported but not in [project] dependencies: {missing}"
    assert {"httpcore", "httpx", "numpy", "sqlalchemy"} <= imported_packages()


def test_the_build_compiles_against_the_numpy_the_package_allows() -> None:
    hook = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"]["targets"]
    (build,) = [Requirement(line) for line in hook["wheel"]["hooks"]["custom"]["dependencies"] if "numpy" in line]
    (runtime,) = [requirement for requirement in requirements() if requirement.name == "numpy"]
    assert build.specifier == runtime.specifier


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("Install and run the tests:", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    assert block.startswith("python3 -m venv .venv && ")
    assert block in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
