"""The wheel installs anywhere: built from a copy of the tree (sdist, then the wheel from the
sdist), installed into a fresh virtualenv outside the checkout, its `mailcore demo` serves the
login page, the failed list and a detail page with the templates and static files it carries.

The fresh virtualenv sees the dependencies through a `.pth` line naming this virtualenv's
site-packages, added after the install (PyPI is not needed, and pip then never sees the
checkout's editable mailcore); the console and mailcore it imports are the wheel's.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("mailcore", "console", "templates", "static")
BUILD_FILES = ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
# repository directory -> where the wheel carries it (setup.py's mapping)
MAPPED = {"templates/email": "mailcore/outbound/layouts", "templates": "console/templates"}
MAPPED["static"] = "console/static"


def wheel_name(path: Path) -> str:
    """Where `path` (relative to the repository) lands in the wheel."""
    text = path.as_posix()
    for src, dest in MAPPED.items():
        if text.startswith(src + "/"):
            return dest + text[len(src) :]
    return text


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `python -m build` makes from a copy of the working tree."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    for name in SOURCES:
        shutil.copytree(ROOT / name, src / name, ignore=IGNORE)
    for name in BUILD_FILES:
        shutil.copy2(ROOT / name, src / name)
    run = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(work / "dist"), "."],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (built,) = (work / "dist").glob("mailcore-*.whl")
    return built


def test_the_wheel_carries_every_module_template_static_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    src = wheel.parents[1] / "src"  # the copy it was built from (the checkout keeps changing)
    expected = {
        wheel_name(path.relative_to(src))
        for top in SOURCES
        for path in (src / top).rglob("*")
        if path.is_file()
    }
    assert expected - names == set()
    assert not any(name.startswith("console/templates/email/") for name in names)


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the checkout with the wheel installed."""
    home = tmp_path_factory.mktemp("venv")
    env = home / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "-q", str(wheel)],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stderr
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env


def outside_env(venv: Path) -> dict[str, str]:
    drop = ("MAILCORE_", "PYTHON", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "PATH": f"{venv / 'bin'}:{env.get('PATH', '')}"}


def test_the_installed_packages_are_the_wheels(venv: Path) -> None:
    code = "import console, mailcore.outbound.compose as c; print(console.__file__, c.LAYOUT_DIR)"
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=venv.parent,
        env=outside_env(venv),
        capture_output=True,
        text=True,
        check=True,
    )
    console_file, layout = run.stdout.split()
    assert Path(console_file).is_relative_to(venv), run.stdout
    assert Path(layout).is_relative_to(venv) and (Path(layout) / "base.html").is_file()


def test_the_installed_migrations_build_a_database(venv: Path) -> None:
    env = outside_env(venv)
    env["MAILCORE_DATABASE_URL"] = f"sqlite:///{venv.parent / 'migrated.db'}"
    mailcore = str(venv / "bin" / "mailcore")
    run = subprocess.run([mailcore, "migrate"], env=env, capture_output=True, text=True)
    assert run.returncode == 0 and "upgraded from none to" in run.stdout, run.stderr
    check = [mailcore, "migrate", "--check"]
    again = subprocess.run(check, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "(current)" in again.stdout, again.stderr


@pytest.fixture(scope="module")
def demo(venv: Path) -> Iterator[tuple[str, str]]:
    """The wheel's `mailcore demo`: (its URL, the admin password it printed)."""
    port = free_port()
    proc = subprocess.Popen(
        [str(venv / "bin" / "mailcore"), "demo", "--port", str(port), "--poll-interval", "3600"],
        cwd=venv.parent,
        env=outside_env(venv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Console:" in line:
            break
    output = "".join(lines)
    try:
        password = re.search(r"password: (\S+)", output)
        assert password and "Console:" in output, output
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url)
        yield url, password.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_until_up(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url + "/login", timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_the_installed_demo_serves_login_failed_list_and_a_detail_page(
    demo: tuple[str, str],
) -> None:
    url, password = demo
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    login = browser.open(url + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login)
    assert token, login
    css = browser.open(url + "/static/console.css", timeout=10).read()
    assert len(css) == (ROOT / "static" / "console.css").stat().st_size
    form = {"csrf_token": token.group(1), "username": "admin", "password": password}
    body = urllib.parse.urlencode(form).encode()
    failed = browser.open(url + "/login", data=body, timeout=10)
    assert failed.url.endswith("/failed/")
    listing = failed.read().decode()
    uids = re.findall(r'href="/failed/(\d+)[?"]', listing)
    assert uids, listing
    detail = browser.open(f"{url}/failed/{uids[0]}", timeout=10).read().decode()
    assert 'id="failure-reason"' in detail and "Log out" in detail
    assert f"UID {uids[0]}</p>" in detail
