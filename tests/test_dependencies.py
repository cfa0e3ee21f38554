"""Every third-party module the code imports is declared in setup.cfg, in the extra that installs it
where that code runs; and every declared runtime dependency is imported somewhere.

Scopes: `analysis/` and `instruments/` run on the core install; `survey/` and `migrations/` need the
`web` extra too; `tests/analysis` and `tests/instruments` run in a venv with only core + `test`
(`make test-analysis-only`); the other tests and bench/ have core + web + test; setup.py runs in the
build environment of pyproject.toml. Imports are read with `ast` (no code runs) and mapped to their
distributions with `importlib.metadata.packages_distributions()` in this environment, where every
extra is installed. (deptry does this job, but it cannot read setup.cfg.)
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"analysis", "instruments", "survey", "tests", "bench"}
REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

# Declared but never imported by our code, on purpose.
NOT_IMPORTED: dict[str, set[str]] = {
    "core": set(),
    # qrcode writes PNGs through `qrcode.image.pil`, which needs Pillow, but declares it only in an extra
    "web": {"pillow"},
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def names_in(requirements: str) -> set[str]:
    found = set()
    for line in requirements.splitlines():
        line = line.split("#", 1)[0]
        match = REQUIREMENT_NAME.match(line)
        if match:
            found.add(normalise(match.group(1)))
    return found


@cache
def declared() -> dict[str, set[str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    groups = {"core": names_in(config["options"]["install_requires"])}
    for extra, requirements in config["options.extras_require"].items():
        groups[extra] = names_in(requirements)
    build = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    groups["build"] = names_in("\n".join(build))
    return groups


def allowed(*groups: str) -> set[str]:
    return set().union(*(declared()[group] for group in groups))


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return {module for module in modules
            if module not in sys.stdlib_module_names and module not in FIRST_PARTY and module != "__future__"}


@cache
def installed() -> Mapping[str, list[str]]:
    return packages_distributions()  # scans every installed distribution: once


def distributions_of(module: str) -> set[str]:
    return {normalise(name) for name in installed().get(module, [])}


SCOPES = [
    (("analysis", "instruments"), ("core",)),
    (("survey", "migrations"), ("core", "web")),
    (("tests/analysis", "tests/instruments"), ("core", "test")),
    (("tests/survey", *(f"tests/{path.name}" for path in sorted((ROOT / "tests").glob("*.py"))), "bench"),
     ("core", "web", "test")),
    (("setup.py",), ("build",)),
]


def files(paths: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = ROOT / name
        found.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return found


@pytest.mark.parametrize(("paths", "groups"), SCOPES, ids=[scope[0][0] for scope in SCOPES])
def test_every_import_is_declared_where_it_runs(paths: tuple[str, ...], groups: tuple[str, ...]) -> None:
    sources = files(paths)
    assert sources, paths
    may_use = allowed(*groups)
    undeclared = []
    for path in sources:
        for module in sorted(top_level_imports(path)):
            providers = distributions_of(module)
            if not providers:
                undeclared.append(f"{path.relative_to(ROOT)}: {module} (no installed distribution has it)")
            elif not providers & may_use:
                undeclared.append(f"{path.relative_to(ROOT)}: {module} from {sorted(providers)}, "
                                  f"not in {'/'.join(groups)}")
    assert undeclared == []


def test_every_test_file_is_in_a_scope() -> None:
    covered = {path for paths, _ in SCOPES for path in files(paths)}
    assert [str(path.relative_to(ROOT)) for path in sorted((ROOT / "tests").rglob("*.py"))
            if path not in covered] == []


@pytest.mark.parametrize(("group", "paths"), [
    ("core", ("analysis", "instruments", "survey", "migrations")),
    ("web", ("survey", "migrations")),
])
def test_every_runtime_dependency_is_imported(group: str, paths: tuple[str, ...]) -> None:
    imported = set().union(*(distributions_of(module) for path in files(paths)
                             for module in top_level_imports(path)))
    assert declared()[group] - imported - NOT_IMPORTED[group] == set()


def test_the_reader_sees_the_declarations() -> None:
    # Guards the tests above against passing on an empty parse of setup.cfg.
    assert {"numpy", "scipy", "pandas"} <= declared()["core"]
    assert {"flask", "itsdangerous", "weasyprint"} <= declared()["web"]
    assert {"pytest", "statsmodels"} <= declared()["test"]
    assert "babel" in declared()["build"]
    assert distributions_of("yaml") == {"pyyaml"}
