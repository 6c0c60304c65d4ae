"""Browser tests: Playwright (Python) driving Debian's Chromium against the
site as it is served, with a real Celery worker answering uploads.

The fixtures other browser test modules use (keep their names and arguments):

- ``live_site`` (package): the site's base URL (``live_site.url``), served by
  gunicorn with a Celery worker behind it, on a database of its own;
  ``live_site.create_user(name, password, staff=False)`` and
  ``live_site.manage(*args)`` reach that database.
- ``browser_page(viewport="desktop"|"phone", javascript=True)``: a fresh
  page (own cookies) at 1280x800 or 390x844; ``page``: the same,
  parametrised over both sizes.
- ``screenshot(page, name)``: a full-page PNG ``<name>-<viewport>.png`` in
  the folder named by ``BROWSER_SCREENSHOTS`` (default ``var/screenshots``).

Why a database of its own rather than pytest-django's ``live_server``: the
site runs as in production (gunicorn, DEBUG off, so the 404 page is the
real one), one server and one worker serve the whole session (no flush and
reload of demos and the 4,000-person gallery between tests), and what the
browser tests commit never shows up in the other tests' database. The worker
listens on a queue of its own, so it never takes another test's message.
Package scope: server, worker and browser stop once the last browser test
has run, so the rest of the suite does not share the machine with them.

The browser is Debian's ``chromium`` package (``.ci/run`` installs it); no
browser is ever downloaded. Without it the tests skip, except on CI
(``CI=true``), where a missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest
from django.conf import settings

from tests.workers import CeleryProcess, celery_worker_process

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("BROWSER_EXECUTABLE", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# Bounds, so a broken server or worker fails a test instead of hanging it.
START_LIMIT_S = 120
ANSWER_LIMIT_MS = 120_000
QUEUE = "browser-tests"


def _on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str):
    """Skip locally; on CI a browser test that cannot run is a failure."""
    if _on_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def screenshots_dir() -> Path:
    folder = Path(os.environ.get("BROWSER_SCREENSHOTS", REPO / "var" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveSite:
    """The site under test: base URL, its environment and its processes."""

    url: str
    env: dict[str, str]
    folder: Path
    worker: CeleryProcess
    server: subprocess.Popen
    users: dict[str, str] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        """A manage.py command against the site's database; its output."""
        return _manage(self.env, *args)

    def create_user(self, username: str, password: str, *, staff: bool = False) -> None:
        script = (
            "from django.contrib.auth import get_user_model\n"
            "import sys\n"
            "name, password, staff = sys.argv[-3], sys.argv[-2], sys.argv[-1] == '1'\n"
            "get_user_model().objects.create_user(name, password=password,"
            " is_staff=staff, is_superuser=staff)\n"
        )
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _django_script(script),
                username,
                password,
                "1" if staff else "0",
            ],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=START_LIMIT_S,
        )
        if done.returncode != 0:
            raise AssertionError(f"creating user {username} failed:\n{done.stderr}")
        self.users[username] = password

    def logs(self) -> str:
        """The server's and the worker's logs, for a failing test's message."""
        parts = []
        for name in ("server.log", "worker.log"):
            path = self.folder / name
            if path.exists():
                parts.append(
                    f"--- {name} (last 60 lines)\n"
                    + "\n".join(path.read_text(errors="replace").splitlines()[-60:])
                )
        return "\n".join(parts)


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def _django_script(body: str) -> str:
    return "import django\ndjango.setup()\n" + body


def _postgres_params() -> dict:
    db = settings.DATABASES["default"]
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": db.get("PORT") or 5432,
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or None,
    }


def _recreate_database(name: str) -> str:
    """An empty PostgreSQL database ``name``; its URL."""
    import psycopg

    params = _postgres_params()
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    password = f":{params['password']}" if params["password"] else ""
    return f"postgres://{params['user']}{password}@{params['host']}:{params['port']}/{name}"


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **_postgres_params()) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_until_serving(url: str, server: subprocess.Popen, site: LiveSite) -> None:
    deadline = time.monotonic() + START_LIMIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server stopped at start\n{site.logs()}")
        try:
            with urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310 (our own URL)
                if response.status == 200:
                    return
        except (URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"the server did not answer within {START_LIMIT_S}s\n{site.logs()}")


@pytest.fixture(scope="package")
def live_site() -> Iterator[LiveSite]:
    """gunicorn + a Celery worker on a fresh database with the demos and the
    shipped look-alike gallery, as `make run` sets them up."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed (requirements-dev.txt)")
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        _unavailable("the browser tests need DATABASE_URL (PostgreSQL)")
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        _unavailable("the browser tests need CELERY_BROKER_URL (Redis)")
    if not (Path(settings.ML_MODELS_DIR) / "efficientnet_lite0.keras").exists():
        pytest.fail("model artifacts are missing: run `make models` (make test does)")

    db_name = f"test_{settings.DATABASES['default']['NAME']}_browser"
    folder = Path(tempfile.mkdtemp(prefix="portfolio-browser-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portfolio.test_settings",
        "DJANGO_LOCAL_DEV": "1",
        "DATABASE_URL": _recreate_database(db_name),
        "DJANGO_MEDIA_ROOT": str(folder / "media"),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_QUEUE": f"{QUEUE}-{uuid.uuid4().hex[:8]}",
        # One address makes every upload of the session: lift the per-address allowance.
        "UPLOAD_ANON_RATE": "10000/hour",
        "UPLOAD_USER_RATE": "10000/hour",
    }
    server = worker = None
    try:
        _manage(env, "migrate", "--noinput")
        _manage(env, "setup_demos")
        # The server and the worker boot while the gallery loads (the worker
        # reloads a gallery whenever its embeddings change).
        worker = celery_worker_process(
            # Only its own queue: no housekeeping task of another test's worker.
            env,
            folder / "worker.log",
            "-Q",
            env["CELERY_QUEUE"],
        ).start()
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with (folder / "server.log").open("a") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "portfolio.wsgi", "--bind", f"127.0.0.1:{port}"]
                + ["--workers", "1", "--threads", "8", "--access-logfile", "-"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # The shipped gallery only: the packaged extras need `make gallery-packages`.
        _manage(env, "setup_gallery", str(folder / "no-packages"))
        site = LiveSite(url=url, env=env, folder=folder, worker=worker, server=server)
        _wait_until_serving(url, server, site)
        yield site
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if worker is not None:
            worker.stop()
        _drop_database(db_name)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="package")
def _browser(live_site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


_VIEWPORT_OF: dict[int, str] = {}


@pytest.fixture
def browser_page(_browser, live_site) -> Iterator[Callable]:
    """``browser_page(viewport="desktop")``: a new page in a new browser
    context (its own cookies), whose relative URLs go to the live site."""
    contexts = []

    def open_page(viewport: str = "desktop", *, javascript: bool = True):
        if viewport not in VIEWPORTS:
            raise ValueError(f"viewport is one of {sorted(VIEWPORTS)}, not {viewport!r}")
        context = _browser.new_context(
            base_url=live_site.url,
            java_script_enabled=javascript,
            viewport=VIEWPORTS[viewport],
            is_mobile=viewport == "phone",
            has_touch=viewport == "phone",
            device_scale_factor=1,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        _VIEWPORT_OF[id(page)] = viewport
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(params=list(VIEWPORTS))  # desktop, then phone
def page(request, browser_page):
    """A fresh page at each size: a test using it runs once per viewport."""
    return browser_page(request.param)


@pytest.fixture
def screenshot() -> Callable:
    """``screenshot(page, name)``: save the whole page as <name>-<viewport>.png."""

    def take(page, name: str) -> Path:
        viewport = _VIEWPORT_OF.get(id(page), "page")
        path = screenshots_dir() / f"{name}-{viewport}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
