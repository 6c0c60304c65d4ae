"""The site as `make run` serves it, started by a benchmark on free ports and
stopped afterwards: shared by bench/faults.py and bench/throughput.py.

The process layout is read from the Makefile's ``run`` target, never copied:
``make -n -o setup run`` prints the recipe with its variables expanded, and
``run_layout`` takes the worker, beat and gunicorn command lines (with any
``VAR=value`` prefixes) out of it; the variables the Makefile exports are
read by asking make for the environment it gives a recipe. Only the
address gunicorn binds is changed (a free port), so when the layout changes
in the Makefile the benchmarks follow.

Everything else here is plumbing: a database of the benchmark's own on the
PostgreSQL of ``DATABASE_URL`` (or `.ci/run`'s default), a ``redis-server``
of its own on a free port, process groups stopped together, /proc readings.
"""

from __future__ import annotations

import http.client
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "static" / "classifiers" / "examples"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"  # as .ci/run
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/15"  # as .ci/run
UNLIMITED_RATE = "1000000/hour"
# make's own bookkeeping, not part of what a recipe's programs should see.
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT",
                  "MAKE_TERMERR")  # fmt: skip


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], what: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise SystemExit(f"gave up waiting {limit_s:.0f}s for {what}")


def http_ok(url: str) -> bool:
    parts = urlsplit(url)
    try:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        connection.request("GET", parts.path)
        return connection.getresponse().status == 200
    except OSError:
        return False


def multipart(
    fields: dict[str, str], filename: str, data: bytes, *, file_field: str = "image"
) -> tuple[bytes, str]:
    """A multipart/form-data body with text fields and one JPEG, and its content type."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# -- processes ------------------------------------------------------------------------


class Processes:
    """Everything started, each in a process group of its own; all stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        with (self.folder / f"{name}.log").open("a") as out:
            process = subprocess.Popen(
                args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        self._stop(list(reversed(self.started)), 20)
        self.started.clear()

    @staticmethod
    def _stop(processes: list[subprocess.Popen], timeout: float) -> None:
        for process in processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Whatever is left of the group (pool processes of a killed worker).
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set so far (VmHWM), in MB; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


# -- the Makefile's process layout ---------------------------------------------------


@dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # VAR=value written before it

    def shell(self) -> str:
        return shlex.join([*(f"{k}={v}" for k, v in self.env.items()), *self.argv])


@dataclass(frozen=True)
class Layout:
    """The three programs `make run` starts, as it starts them."""

    web: Command
    worker: Command
    beat: Command

    def __iter__(self):
        return iter((self.web, self.worker, self.beat))


def parse_run_recipe(text: str) -> Layout:
    """The worker, beat and gunicorn commands of the recipe ``make -n`` printed."""
    lexer = shlex.shlex(text.replace("\\\n", " "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|()<>"):
            commands.append([])  # a separator: `&`, `;`, `&&`, `|`...
        else:
            commands[-1].append(token)
    found: dict[str, Command] = {}
    for words in commands:
        env = {}
        while words and "=" in words[0] and words[0].split("=", 1)[0].isidentifier():
            name, value = words.pop(0).split("=", 1)
            env[name] = value
        if words and words[0] in ("exec", "env"):
            words = words[1:]
        if not words:
            continue
        program = Path(words[0]).name
        if program == "gunicorn":
            role = "web"
        elif program == "celery" and "worker" in words:
            role = "worker"
        elif program == "celery" and "beat" in words:
            role = "beat"
        else:
            continue
        if role in found:
            raise SystemExit(f"the run recipe starts more than one {role}: {text}")
        found[role] = Command(words, env)
    missing = {"web", "worker", "beat"} - set(found)
    if missing:
        raise SystemExit(f"no {', '.join(sorted(missing))} found in the Makefile's run recipe")
    return Layout(**found)


def rebind(argv: list[str], address: str) -> list[str]:
    """gunicorn's command line, bound to ``address`` instead."""
    out, words = [], iter(argv)
    replaced = False
    for word in words:
        if word in ("--bind", "-b"):
            next(words, None)
            out += [word, address]
            replaced = True
        elif word.startswith("--bind="):
            out.append(f"--bind={address}")
            replaced = True
        else:
            out.append(word)
    return out if replaced else [*out, "--bind", address]


def make_run_layout(
    env: dict[str, str], worker_concurrency: int | None = None, overrides: Sequence[str] = ()
) -> Layout:
    """``overrides``: make variables (``GUNICORN_THREADS=8``) for a layout
    other than the Makefile's own, as `make run VAR=value` would take them."""
    overrides = list(overrides)
    if worker_concurrency is not None:
        overrides.append(f"WORKER_CONCURRENCY={worker_concurrency}")
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", "setup", "run", *overrides],
        cwd=REPO, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return parse_run_recipe(printed)


def make_environment(env: dict[str, str]) -> dict[str, str]:
    """The environment make gives the run recipe: ``env`` plus what the Makefile exports."""
    printed = subprocess.run(
        ["make", "--no-print-directory", "-s", "--eval", ".bench-env: ; @env -0", ".bench-env"],
        cwd=REPO, env=env, check=True, capture_output=True,
    ).stdout  # fmt: skip
    return parse_environment(printed)


def parse_environment(printed: bytes) -> dict[str, str]:
    found = {}
    for entry in printed.decode().split("\0"):
        if "=" in entry:
            name, value = entry.split("=", 1)
            if name not in MAKE_VARIABLES:
                found[name] = value
    return found


# -- the site ---------------------------------------------------------------------------


def _server_url() -> str:
    server = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    return urlunsplit(server._replace(scheme="postgresql", path="/postgres"))


def database_backends(name: str) -> set[int]:
    """The pids of the PostgreSQL backends connected to database ``name``
    (their CPU is the site's database work)."""
    import psycopg

    with psycopg.connect(_server_url(), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchall()
    return {pid for (pid,) in rows}


def create_database(name: str) -> str:
    """A fresh database of the benchmark's own on the environment's PostgreSQL server."""
    import psycopg

    with psycopg.connect(_server_url(), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")
    server = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    return urlunsplit(server._replace(path=f"/{name}"))


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_server_url(), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Site:
    """The site on free ports: gunicorn, a Celery worker and beat as `make run`
    starts them, on a database of its own (``database``) and a redis-server of
    its own; with ``default``, SQLite and the filesystem broker as `make run`
    uses with nothing set."""

    folder: Path
    processes: Processes
    database: str
    default: bool = False
    own_redis: bool = True
    # The shared cache (upload counts, the queue's speed reading) on that
    # redis-server, as production has it (CACHE_URL), not a database table.
    cache_on_redis: bool = False
    worker_concurrency: int | None = None
    make_overrides: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    layout: Layout | None = None
    url: str = ""
    redis_port: int = 0
    redis: subprocess.Popen | None = None
    web: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    beat: subprocess.Popen | None = None
    worker_starts: int = 0
    created_database: bool = False

    def set_up(self, *, limits_lifted: bool = True) -> None:
        """Database, broker and environment, migrated and with the demos."""
        media = self.folder / "media"
        media.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portfolio.settings",
            "DJANGO_LOCAL_DEV": "1",
            "DJANGO_MEDIA_ROOT": str(media),
            "CELERY_BEAT_SCHEDULE_FILENAME": str(self.folder / "beat-schedule"),
            "LOG_LEVEL": "INFO",
        }
        if limits_lifted:
            # One benchmark client sends N uploads: lift the per-client limits.
            env.update({
                "API_ANON_UPLOAD_RATE": UNLIMITED_RATE,
                "UPLOAD_ANON_RATE": UNLIMITED_RATE,
                "QUEUE_MAX_DEPTH": "1000000",
                "QUEUE_MAX_PER_CLIENT": "1000000",
            })  # fmt: skip
        if self.default:
            env["DATABASE_URL"] = f"sqlite:///{self.folder / 'db.sqlite3'}"
            env["CELERY_BROKER_URL"] = "filesystem://"
            env["CELERY_BROKER_DIR"] = str(self.folder / "broker")
        else:
            if self.own_redis:
                self.redis_port = free_port()
                self.start_redis()
                env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
            else:
                env["CELERY_BROKER_URL"] = os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL
            env["DATABASE_URL"] = create_database(self.database)
            self.created_database = True
        for name in ("CACHE_URL", "REDIS_CACHE_URL"):
            env.pop(name, None)  # each process's default (no shared Redis cache to restart)
        if self.cache_on_redis and self.redis_port:
            env["CACHE_URL"] = f"redis://127.0.0.1:{self.redis_port}/1"
        self.env = make_environment(env)
        for override in self.make_overrides:
            # Exported variables (TF_NUM_INTRAOP_THREADS) reach the processes too.
            name, _, value = override.partition("=")
            self.env[name] = value
        self.layout = make_run_layout(self.env, self.worker_concurrency, self.make_overrides)
        log(
            f"database {self.env['DATABASE_URL']}, broker {self.env['CELERY_BROKER_URL']}, "
            f"cache {self.env.get('CACHE_URL', 'the database')}"
        )
        manage(self.env, "migrate", "--noinput")
        manage(self.env, "createcachetable")
        manage(self.env, "setup_demos")

    def start_redis(self) -> None:
        self.redis = self.processes.start(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            self.env or dict(os.environ),
        )  # fmt: skip
        wait_for(lambda: redis_ping(self.redis_port), "redis-server", 20)

    def restart_redis(self) -> None:
        assert self.redis is not None
        self.redis.terminate()
        self.redis.wait(timeout=20)
        self.start_redis()

    def _start(self, name: str, command: Command, argv: list[str]) -> subprocess.Popen:
        return self.processes.start(name, argv, {**self.env, **command.env})

    def start_web(self) -> None:
        assert self.layout is not None
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.layout = replace(
            self.layout,
            web=replace(self.layout.web, argv=rebind(self.layout.web.argv, f"127.0.0.1:{port}")),
        )
        self.web = self._start("web", self.layout.web, self.layout.web.argv)

    def start_beat(self) -> None:
        assert self.layout is not None
        self.beat = self._start("beat", self.layout.beat, self.layout.beat.argv)

    def start_worker(self, *extra: str) -> subprocess.Popen:
        assert self.layout is not None
        self.worker_starts += 1
        command = self.layout.worker
        self.worker = self._start("worker", command, [*command.argv, *extra])
        return self.worker

    def wait_until_serving(self, limit_s: float = 120) -> None:
        wait_for(lambda: http_ok(self.url + "/api/v1/demos/"), "the site", limit_s)

    def worker_log(self) -> str:
        return (self.folder / "worker.log").read_text(errors="replace")

    def pool_processes(self) -> list[int]:
        assert self.worker is not None
        return children(self.worker.pid)

    def tear_down(self) -> None:
        """Stop every process and drop the database (also after an error)."""
        self.processes.stop_all()
        if self.created_database:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: BLE001  (Django may not be set up in this process)
                pass
            drop_database(self.database)
            self.created_database = False


def require_redis_server() -> None:
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server not found (or use --default)")
