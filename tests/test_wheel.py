"""The wheel is the product: built from this checkout, installed into a fresh virtualenv, it migrates a
database, seeds the demo and serves a survey page in Vietnamese, with no checkout to lean on.

To stay inside `make test`'s time the fresh venv borrows the installed third-party packages (a .pth line
to this environment's site-packages; a .pth line adds the directory only, so the checkout's editable
install does not come along) and gets the wheel itself with `--no-deps`; `pip check` then proves the
wheel's declared requirements are met. Every command runs outside the checkout, and the test asserts
that `survey` was imported from the fresh venv.
"""

from __future__ import annotations

import os
import re
import site
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# distutils' own notes when pip disables byte-compiling; anything else that says warning is a failure
HARMLESS = re.compile(r"warning: \w+: byte-compiling is disabled, skipping\.")
# `flask seed demo` prints each counter ("  CODE/COUNTER  name  — instrument@version") with its survey URL
# on the next line.
SURVEY_URL = re.compile(r"^  \S+  (.+?)  — \S+\n    survey: http://127\.0\.0\.1:5000(/s/\S+)", re.M)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheelhouse")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(out),
                            str(ROOT)], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = out.glob("hai_long-*.whl")
    return wheel, build.stdout + build.stderr


@pytest.fixture(scope="module")
def venv(built: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
    python = home / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    fresh_site = Path(subprocess.run([str(python), "-c", purelib], capture_output=True, text=True,
                                     check=True).stdout.strip())
    (fresh_site / "borrowed-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(built[0])],
                   check=True, cwd=home)
    return home


def run(venv: Path, *args: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], cwd=workdir, env=app_env(workdir),
                          capture_output=True, text=True, check=False, timeout=120)


def app_env(workdir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("FLASK_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(FLASK_APP="survey", FLASK_SECRET_KEY="wheel-test-secret", FLASK_QR_SECRET_KEY="wheel-test-qr",
               FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{workdir / 'hailong.db'}")
    return env


def test_the_build_prints_no_warning(built: tuple[Path, str]) -> None:
    _, log = built
    warnings = [line.strip() for line in log.splitlines()
                if (re.search(r"\w+Warning\b", line) or "warning:" in line) and not HARMLESS.search(line)]
    assert warnings == []


def test_the_wheel_carries_templates_static_files_catalogues_and_migrations(built: tuple[Path, str]) -> None:
    names = set(zipfile.ZipFile(built[0]).namelist())
    assert {
        "survey/templates/base.html", "survey/templates/survey/form.html",
        "survey/static/app.css", "survey/static/survey.js",
        "survey/translations/vi/LC_MESSAGES/messages.mo", "survey/translations/en/LC_MESSAGES/messages.mo",
        "survey/migrations/env.py", "survey/migrations/alembic.ini", "survey/migrations/script.py.mako",
        "instruments/data/sipas-counter.yaml", "instruments/published.json",
    } <= names
    migrations = {path.name for path in (ROOT / "migrations" / "versions").glob("*.py")}
    assert migrations and {f"survey/migrations/versions/{name}" for name in migrations} <= names
    assert not [name for name in names if "__pycache__" in name or name.startswith(("tests/", "bench/"))]


def test_its_declared_requirements_are_met(venv: Path, tmp_path: Path) -> None:
    check = run(venv, "python", "-m", "pip", "check", workdir=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_installed_app_reads_its_files_from_the_package(venv: Path, tmp_path: Path) -> None:
    probe = run(venv, "python", "-c",
                "import survey; app = survey.create_app(); "
                "print(survey.__file__); print(app.jinja_loader.searchpath[0]); "
                "print(app.extensions['migrate'].directory)", workdir=tmp_path)
    assert probe.returncode == 0, probe.stderr
    package = Path(probe.stdout.splitlines()[0]).parent
    assert package.is_relative_to(venv)
    assert probe.stdout.splitlines()[1:] == [str(package / "templates"), str(package / "migrations")]


@pytest.fixture
def server(venv: Path, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    upgrade = run(venv, "python", "-m", "flask", "db", "upgrade", workdir=tmp_path)
    assert upgrade.returncode == 0, upgrade.stderr
    seed = run(venv, "python", "-m", "flask", "seed", "demo", workdir=tmp_path)
    assert seed.returncode == 0, seed.stderr
    survey_path = SURVEY_URL.search(seed.stdout)
    assert survey_path, seed.stdout
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # `python -m flask`: Flask's console script belongs to the borrowed packages, not to the fresh venv
    process = subprocess.Popen([str(venv / "bin" / "python"), "-m", "flask", "run", "--host", "127.0.0.1",
                                "--port", str(port)],
                               cwd=tmp_path, env=app_env(tmp_path), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None, "flask run exited"
                assert time.monotonic() < deadline, "flask run did not listen within 30 s"
                time.sleep(0.2)
        yield base, survey_path.group(2), survey_path.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_installed_app_serves_a_survey_page_in_vietnamese(server: tuple[str, str, str]) -> None:
    base, survey_path, counter_name = server
    with urllib.request.urlopen(base + survey_path, timeout=30) as response:
        status, page = response.status, response.read().decode()
    assert status == 200
    assert '<html lang="vi"' in page
    assert "Gửi câu trả lời" in page  # "Send my answers": only the compiled vi catalogue says this
    assert counter_name in page  # the demo counter the seed printed, named in Vietnamese
    with urllib.request.urlopen(base + "/static/survey.css", timeout=30) as response:
        assert response.status == 200 and response.read()
