"""Every dependency is pinned with hashes, and what runs is what the lock files pin."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _pins(lock: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every requirement in a lock file."""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in (ROOT / lock).read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line.startswith(" "):
            match = PIN.match(stripped)
            assert match, f"{lock}: not pinned to one version: {stripped}"
            name = canonicalize_name(match.group(1))
            pins[name] = (match.group(2), 0)
        elif stripped.startswith("--hash=sha256:"):
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def _declared(groups: tuple[str, ...]) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = list(project["dependencies"])
    for group in groups:
        found += project["optional-dependencies"][group]
    return {canonicalize_name(Requirement(r).name) for r in found}


def test_every_pin_has_hashes_and_every_declared_dependency_is_pinned() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert len(runtime) > 50 and len(dev) > len(runtime)
    for lock in (runtime, dev):
        assert all(hashes > 0 for _, hashes in lock.values()), [n for n, (_, h) in lock.items() if not h]
    assert _declared(()) <= set(runtime)
    assert _declared(("test", "bench")) <= set(dev)
    # The runtime packages are the same versions in both files.
    assert {n: v for n, (v, _) in runtime.items()} == {n: dev[n][0] for n in runtime}


def test_the_environment_is_the_lock() -> None:
    dev = _pins("requirements-dev.lock")
    wrong = {name: (metadata.version(name), version) for name, (version, _) in dev.items()
             if metadata.version(name) != version}
    assert wrong == {}  # installed version, pinned version
