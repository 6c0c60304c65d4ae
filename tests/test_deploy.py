"""The production recipe, checked where Docker cannot run: compose.yaml, the
Dockerfile and .env.example against the code they start.

The image itself is built here only where a Docker engine answers
(`docker info`); tests/test_deploy_processes.py starts the services'
commands as plain processes.
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.portfolio.test_settings import _run

REPO = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (REPO / "compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
SITE_SERVICES = ("web", "worker", "beat", "setup")  # the ones that run the site's image
DOCKERFILE = (REPO / "Dockerfile").read_text()


def env_example_names() -> set[str]:
    names = set()
    for line in (REPO / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def names_read_by(path: Path) -> set[str]:
    """Environment variables a settings module reads: the string arguments of
    env.*(...), env_flag(...), _rate(...) and os.environ.get(...)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        reads = (
            (isinstance(func, ast.Attribute) and getattr(func.value, "id", None) == "env")
            or (isinstance(func, ast.Name) and func.id in ("env_flag", "_rate"))
            or (
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and getattr(func.value, "attr", None) == "environ"
            )
        )
        if reads:
            found |= {
                arg.value
                for arg in node.args
                if isinstance(arg, ast.Constant)
                and re.fullmatch(r"[A-Z][A-Z0-9_]+", str(arg.value))
            }
    return found


def test_compose_names_every_service_of_the_site():
    assert {"web", "worker", "beat", "db", "redis", "storage"} <= set(SERVICES)


@pytest.mark.parametrize("service", ["web", "worker", "beat", "db", "redis", "storage"])
def test_every_long_running_service_has_a_healthcheck(service):
    assert SERVICES[service]["healthcheck"]["test"]


def test_web_worker_and_beat_wait_for_what_they_need():
    for name in ("web", "worker", "beat"):
        needs = SERVICES[name]["depends_on"]
        assert {"db", "redis", "storage", "setup"} <= set(needs), name
        assert needs["setup"]["condition"] == "service_completed_successfully"


def test_workers_scale_and_beat_does_not():
    """`--scale worker=N` needs no fixed name or host port; beat runs once."""
    for name in ("worker", "beat"):
        assert "container_name" not in SERVICES[name] and "ports" not in SERVICES[name]
    assert "replicas" not in str(SERVICES["beat"].get("deploy", ""))


def test_the_site_shares_no_disk_between_its_services():
    """Files go through the bucket (storage), not a volume web and workers share."""
    for name in SITE_SERVICES:
        assert "volumes" not in SERVICES[name], name
        environment = SERVICES[name]["environment"]
        assert environment["AWS_S3_ENDPOINT_URL"] == "http://storage:9000"
        assert environment["LOG_FORMAT"] == "json"


def test_every_variable_compose_uses_is_named_in_env_example():
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", COMPOSE_TEXT))
    passed = {key for name in SITE_SERVICES for key in SERVICES[name]["environment"]}
    missing = (interpolated | passed) - env_example_names()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_every_setting_the_code_reads_is_named_in_env_example():
    read = set()
    for path in [*REPO.glob("portfolio/settings*.py"), REPO / "deploy" / "gunicorn.conf.py"]:
        read |= names_read_by(path)
    assert {"DATABASE_URL", "DJANGO_SECRET_KEY", "LOG_FORMAT", "WEB_CONCURRENCY"} <= read
    missing = read - env_example_names()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_sets_what_production_requires():
    values = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "POSTGRES_PASSWORD"):
        assert values.get(name), name
    assert values["LOG_FORMAT"] == "json"


def _command(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return command if isinstance(command, list) else shlex.split(command)


def test_the_web_command_is_the_images_and_serves_the_wsgi_app():
    command = _command("web")
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M).group(1)
    assert command == yaml.safe_load(cmd)
    assert command[:2] == ["gunicorn", "portfolio.wsgi"]
    config = REPO / command[command.index("-c") + 1]
    assert config.is_file()
    result = _run(
        ["-c", "import portfolio.wsgi as w; print(callable(w.application))"],
        DJANGO_LOCAL_DEV="1",
    )
    assert result.stdout.strip() == "True", result.stderr


@pytest.mark.parametrize("service", ["worker", "beat"])
def test_the_worker_and_beat_commands_start_the_sites_celery_app(service):
    command = _command(service)
    # --quiet: no banner, which is not a JSON line.
    assert command[:5] == ["celery", "-A", "portfolio", "--quiet", service]
    # The options compose passes are ones this Celery takes (--help parses them).
    options = [arg.split("=")[0] for arg in command[5:]]
    result = subprocess.run(
        [sys.executable, "-m", "celery", *command[1:5], "--help"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "DJANGO_LOCAL_DEV": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for option in options:
        assert option in result.stdout, option


def test_the_setup_service_runs_management_commands_that_exist():
    from django.core.management import get_commands

    script = " ".join(_command("setup"))
    used = re.findall(r"manage\.py (\w+)", script)
    assert used == ["migrate", "setup_demos", "setup_gallery"]
    assert set(used) <= set(get_commands())


def test_the_dockerfile_copies_only_files_that_exist():
    for line in re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, re.M):
        *sources, _destination = line.split()
        for source in sources:
            assert source == "." or (REPO / source).exists(), source


def test_the_image_runs_as_a_user_without_privileges_from_slim_python_3_11():
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE, re.M)
    assert DOCKERFILE.count("FROM ${PYTHON_IMAGE}") == 2  # build, then runtime
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0")


def test_the_image_installs_the_lock_with_its_hashes():
    assert "uv pip sync --python /opt/venv/bin/python --require-hashes requirements.lock" in (
        DOCKERFILE
    )


def test_the_image_fetches_the_same_gallery_packages_as_the_makefile():
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile[makefile.index("$(GALLERY_STAMP):") : makefile.index("gallery-packages:")]
    pins = re.compile(r"[a-z][a-z0-9-]*==[0-9][^\s\\]*")
    build = DOCKERFILE[DOCKERFILE.index("pip download") : DOCKERFILE.index("collectstatic")]
    assert sorted(pins.findall(build)) == sorted(pins.findall(recipe))
    assert len(pins.findall(recipe)) == 4


def test_the_dockerignore_keeps_secrets_and_local_state_out():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".venv", "var", ".git"} <= set(ignored)


def _docker_engine() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _docker_engine(), reason="no Docker engine here (`docker info` fails)")
def test_the_image_builds_and_compose_accepts_the_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text((REPO / ".env.example").read_text())
    config = subprocess.run(
        ["docker", "compose", "--env-file", str(env_file), "-f", "compose.yaml", "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert config.returncode == 0, config.stderr
    build = subprocess.run(
        ["docker", "build", "--platform", "linux/amd64", "-t", "portfolio:test", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert build.returncode == 0, build.stderr[-4000:]
