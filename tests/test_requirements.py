"""The locks are compiled from the direct requirements and are what is installed.

requirements.txt / requirements-dev.txt list the direct requirements; `make
lock` compiles requirements.lock / requirements-dev.lock from them (every
package pinned, with hashes), and `make` installs the dev lock. A direct pin
changed or added without `make lock` fails here, naming the command.
"""

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
RERUN = "requirements changed without `make lock`: run it and commit the locks"


def direct(path: Path) -> dict[str, Requirement]:
    """The direct requirements of a requirements file, following `-r`."""
    found: dict[str, Requirement] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r"):
            found.update(direct(path.parent / line[2:].strip()))
            continue
        requirement = Requirement(line)
        found[canonicalize_name(requirement.name)] = requirement
    return found


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of a lock compiled with --generate-hashes."""
    entries: dict[str, tuple[str, int]] = {}
    name = None
    for line in path.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if pin:
            name = canonicalize_name(pin.group(1))
            entries[name] = (pin.group(2), 0)
        elif name and "--hash=sha256:" in line:
            version, hashes = entries[name]
            entries[name] = (version, hashes + 1)
    return entries


RUNTIME = direct(REPO / "requirements.txt")
DEV = direct(REPO / "requirements-dev.txt")
RUNTIME_LOCK = locked(REPO / "requirements.lock")
DEV_LOCK = locked(REPO / "requirements-dev.lock")


@pytest.mark.parametrize(
    "requirements, lock",
    [(RUNTIME, RUNTIME_LOCK), (DEV, DEV_LOCK)],
    ids=["requirements.lock", "requirements-dev.lock"],
)
def test_every_direct_requirement_is_pinned_and_locked_at_its_pin(requirements, lock):
    for name, requirement in requirements.items():
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{requirement}: pin it with =="
        assert name in lock, f"{name} is not in the lock; {RERUN}"
        assert lock[name][0] == spec.version, f"{name}: lock has {lock[name][0]}; {RERUN}"


def test_every_locked_package_has_its_hashes():
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        assert all(hashes for _, hashes in lock.values())


def test_the_dev_lock_installs_the_runtime_lock_unchanged():
    assert {name: DEV_LOCK.get(name) for name in RUNTIME_LOCK} == RUNTIME_LOCK


def test_celery_takes_a_redis_client_in_the_range_kombu_declares():
    assert "redis" in RUNTIME["celery"].extras
    kombu = metadata.distribution("kombu")
    (declared,) = [
        Requirement(r) for r in kombu.requires or () if r.startswith("redis") and "redis" in r
    ]
    assert declared.specifier.contains(RUNTIME_LOCK["redis"][0])


def test_what_is_installed_is_the_dev_lock():
    """`make` installed this environment from the lock (uv pip sync)."""
    wrong = {}
    for name, (version, _) in DEV_LOCK.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (installed, version)
    assert not wrong, f"installed vs locked: {wrong}; run `make install`"
