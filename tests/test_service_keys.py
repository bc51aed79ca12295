"""Who holds which secret: the table against compose.yaml and `make run`'s child environments; keys
that were ever committed, all-zero or short are refused unless ANTIBULLY_DEV_MODE=1; link tokens and
identity assertions across a key rotation."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from antibully.launcher import SERVICES, child_envs
from services.notify.links import LinkClaims, LinkError, Links
from shared import assertions
from shared.config import ROOT, Settings
from shared.crypto import new_key_b64
from shared.identity import OfficialRole
from shared.runner import refuse_known_keys
from shared.service_keys import (
    ALL_SECRETS,
    APP_SERVICES,
    COMMITTED,
    KEYS,
    OPTIONAL,
    SERVICE_SECRETS,
    fingerprints,
    refusals,
    service_env,
)

# The old compose defaults (kept here, in a test, only to prove they are refused; never in a service).
OLD_LINK_KEY = "VOgtycIThvH3z6qsrkqJfFfs2sgCiAUS80h0P/VMEMY="
OLD_ARCHIVE_KEK = "WmzfesMol3RRwybmuyVWhNQVCHB0A8GejRVtiZqwlPk="
FIELDS = set(Settings.model_fields)
_REF = re.compile(r"\$\{([A-Z0-9_]+)(:?[?-])?([^}]*)\}")


def _compose() -> dict[str, dict[str, str]]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return {name: {k: str(v) for k, v in (svc.get("environment") or {}).items()}
            for name, svc in data["services"].items()}


@pytest.mark.pure
def test_every_secret_setting_belongs_to_some_service() -> None:
    secretish = {f for f in FIELDS if f.endswith(("_key", "_kek", "_secret", "_token", "_seed", "database_url"))
                 or f in ("aliyun_access_key_id", "tencent_secret_id")}
    secretish -= {"rate_key_secret"}
    assert secretish <= ALL_SECRETS, secretish - ALL_SECRETS
    assert KEYS <= ALL_SECRETS and OPTIONAL <= ALL_SECRETS


@pytest.mark.pure
def test_compose_gives_each_service_exactly_its_secrets_without_defaults() -> None:
    compose = _compose()
    nodes = {name: name.rsplit("-", 1)[0] for name in compose if name.rsplit("-", 1)[-1].isdigit()}  # nats-1..3
    assert set(nodes.values()) <= set(SERVICE_SECRETS), nodes
    for node, service in [*((s, s) for s in SERVICE_SECRETS if s in compose), *nodes.items()]:
        table, env = SERVICE_SECRETS[service], compose[node]
        held = {k.lower() for k in env} & ALL_SECRETS
        assert held <= table, f"{service} holds others' secrets: {held - table}"
        required = (table - OPTIONAL) & (FIELDS | {"nats_jetstream_key", "postgres_password"})
        assert required <= held, f"{service} lacks {required - held}"
        for name in held:
            refs = _REF.findall(env[name.upper()])
            assert refs, f"{service}: {name.upper()} is a literal, not from the environment"
            for var, op, default in refs:
                if name in OPTIONAL:
                    assert (op, default) == (":-", ""), f"{service}: {var} has a default"
                else:
                    assert op == ":?" and default.startswith(f"set {var}"), f"{service}: {var} is not ${{{var}:?…}}"
    assert set(SERVICE_SECRETS) <= set(compose) | set(nodes.values())
    for service in set(compose) - set(SERVICE_SECRETS) - set(nodes):  # mailpit, jaeger, …: no secret at all
        assert not {k.lower() for k in compose[service]} & ALL_SECRETS, service


@pytest.mark.pure
def test_compose_has_no_default_for_any_secret_anywhere() -> None:
    text = (ROOT / "compose.yaml").read_text()
    secret_vars = {n.upper() for n in ALL_SECRETS}
    for var, op, default in _REF.findall(text):
        if var in secret_vars:
            assert op in (":?", ":-") and (op == ":?" or default == ""), var
    for token in re.findall(r"[A-Za-z0-9+/=_-]{16,}", text):  # (the password is the variable's, checked above)
        assert not fingerprints(token) & COMMITTED, "a committed key is back in compose.yaml"


@pytest.mark.pure
def test_make_run_hands_each_child_only_its_own_secrets() -> None:
    env = {"PATH": "/usr/bin", "NATS_URL": "nats://127.0.0.1:4223", "DATABASE_URL": "postgresql://x@h/db",
           "DIRECTORY_FILE": "/dev/null"} | {name.upper(): f"value-of-{name}" for name in ALL_SECRETS}
    envs = child_envs(env, workers=3)
    assert set(envs) == {*SERVICES, "intake-2", "intake-3"}
    for child, child_env in envs.items():
        service = child.split("-")[0]
        others = ALL_SECRETS - SERVICE_SECRETS[service]
        assert not {k.lower() for k in child_env} & others, child
        assert {k.lower() for k in child_env} & ALL_SECRETS == SERVICE_SECRETS[service]
        assert child_env["NATS_URL"] == env["NATS_URL"] and child_env["PATH"] == "/usr/bin"
    assert "ARCHIVE_KEK" not in envs["notify"] and "LINK_KEY" in envs["notify"]
    assert "DATABASE_URL" not in envs["console"] and "CONSOLE_SESSION_KEY" in envs["console"]
    assert "IDENTITY_SIGNING_KEY" not in envs["intake-2"] and "IDENTITY_PUBLIC_KEY" in envs["intake-2"]
    assert service_env({"link_key": "x"}, "archive") == {}  # names are matched however they are cased


@pytest.mark.pure
def test_a_committed_key_is_refused_naming_the_variable() -> None:
    assert refusals({"link_key": OLD_LINK_KEY}, "notify") == [
        "LINK_KEY holds a development key that was committed to the repository, so it is public: make a new one "
        "(see docs/security.md)"]
    # anywhere in a ring, and however it is spaced
    assert refusals({"archive_kek": f"{new_key_b64()}, {OLD_ARCHIVE_KEK} "}, "archive")[0].startswith("ARCHIVE_KEK")
    assert refusals({"database_url": "postgresql://postgres:antibully@postgres:5432/antibully"}, "archive") == [
        "DATABASE_URL logs in with a password that was committed to the repository: set a new one "
        "(see docs/security.md)"]
    # only the service's own settings are looked at
    assert refusals({"link_key": OLD_LINK_KEY}, "archive") == []


@pytest.mark.pure
def test_all_zero_and_short_keys_are_refused_random_ones_pass() -> None:
    zero, short = base64.b64encode(bytes(32)).decode(), base64.b64encode(b"k" * 16).decode()
    assert refusals({"intake_data_key": zero}, "intake") == [
        "INTAKE_DATA_KEY is all zeros: make a random key (see docs/security.md)"]
    assert refusals({"console_session_key": short}, "console") == [
        "CONSOLE_SESSION_KEY is 16 bytes: a key must be at least 32 random bytes"]
    fine = {name: new_key_b64() for name in KEYS} | {"database_url": "postgresql://postgres@127.0.0.1/x",
                                                     "receipt_token": "short-but-not-a-key"}
    for service in APP_SERVICES:
        assert refusals(fine, service) == [], service
    assert refusals({"link_key": "", "archive_kek": "   "}, "notify") == []  # unset: the service decides


def _start(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", f"services.{service}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "NATS_URL": "nats://127.0.0.1:1",
                                           "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none", **env})


@pytest.mark.timeout(120)
def test_a_service_process_refuses_to_start_with_a_committed_key() -> None:
    refused = _start("notify", {"LINK_KEY": OLD_LINK_KEY})
    assert refused.returncode != 0
    assert "notify refuses to start: LINK_KEY holds a development key" in refused.stderr
    assert "ANTIBULLY_DEV_MODE=1" in refused.stderr


@pytest.mark.pure
def test_dev_mode_starts_anyway() -> None:
    zero = base64.b64encode(bytes(32)).decode()
    with pytest.raises(SystemExit, match="console refuses to start: CONSOLE_SESSION_KEY is all zeros"):
        refuse_known_keys("console", Settings(console_session_key=zero))
    refuse_known_keys("console", Settings(console_session_key=zero, antibully_dev_mode=True))  # no exit


# --- rotation of the link key and the identity key (pure) ---

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
CLAIMS = LinkClaims(notification_id=uuid.uuid4(), case_ref="AB-12345678",
                    expires_at=int((NOW + timedelta(days=7)).timestamp()))


def _legacy_token(key_b64: str, claims: LinkClaims) -> str:
    """A link as notify signed it before key ids: `<body>.<mac>`."""
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    body = b64(json.dumps({"n": str(claims.notification_id), "c": claims.case_ref, "e": claims.expires_at},
                          separators=(",", ":")).encode())
    return f"{body}.{b64(hmac.new(base64.b64decode(key_b64), body.encode(), hashlib.sha256).digest())}"


@pytest.mark.pure
def test_links_across_a_link_key_rotation() -> None:
    old, new = new_key_b64(), new_key_b64()
    before = Links(old).sign(CLAIMS)
    legacy = _legacy_token(old, CLAIMS)
    assert Links(old).verify(legacy, NOW) == CLAIMS  # links sent before key ids keep working
    rotated = Links(f"{new},{old}")
    after = rotated.sign(CLAIMS)
    assert after.split(".")[0] != before.split(".")[0]  # signed by the new key, named by its id
    for token in (before, legacy, after):
        assert rotated.verify(token, NOW) == CLAIMS
    dropped = Links(new)  # after LINK_TTL: the old key is gone, and its links with it
    assert dropped.verify(after, NOW) == CLAIMS
    for token in (before, legacy):
        with pytest.raises(LinkError, match="forged"):
            dropped.verify(token, NOW)
    kid, body, mac = after.split(".")
    for forged in (f"{'0' * len(kid)}.{body}.{mac}", f"{before.split('.')[0]}.{body}.{mac}", f"x.{after}"):
        with pytest.raises(LinkError, match="forged"):  # an unknown or another key's id is refused
            rotated.verify(forged, NOW)


@pytest.mark.pure
def test_identity_assertions_across_a_key_rotation() -> None:
    old_seed, new_seed = base64.b64decode(new_key_b64()), base64.b64decode(new_key_b64())
    old_pub, new_pub = (assertions.public_key_b64(base64.b64encode(s).decode()) for s in (old_seed, new_seed))
    claims = assertions.Claims(sub="t1", name="班主任", role=OfficialRole.school, school_id="s1", jurisdiction="j",
                               iat=int(NOW.timestamp()), exp=int(NOW.timestamp()) + 300, aud="intake")
    overlap = assertions.public_keys_from_b64(f"{new_pub},{old_pub}")
    for seed in (old_seed, new_seed):
        assert assertions.verify(assertions.sign(claims, seed), overlap, NOW, "intake") == claims
    only_new = assertions.public_keys_from_b64(new_pub)
    assert assertions.verify(assertions.sign(claims, old_seed), only_new, NOW, "intake") is None
    _, body, signature = assertions.sign(claims, new_seed).removeprefix("abi_").split(".")
    assert assertions.verify(f"abi_{body}.{signature}", only_new, NOW, "intake") == claims  # before key ids
    assert assertions.verify(f"abi_ffffffff.{body}.{signature}", overlap, NOW, "intake") is None  # unknown kid


@pytest.mark.pure
def test_new_env_sets_every_variable_compose_requires_with_keys_the_services_accept() -> None:
    from antibully.rotate import new_env

    lines = new_env()
    values = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
    required = {var for var, op, _ in _REF.findall((ROOT / "compose.yaml").read_text()) if op == ":?"}
    assert required <= set(values), required - set(values)  # `docker compose up` with this .env starts
    settings = {k.lower(): v for k, v in values.items()}
    for service in APP_SERVICES:
        assert refusals(settings, service) == [], service
    assert values["IDENTITY_PUBLIC_KEY"] == assertions.public_key_b64(values["IDENTITY_SIGNING_KEY"])
    assert values != dict(line.split("=", 1) for line in new_env() if not line.startswith("#"))  # fresh each time


@pytest.mark.pure
def test_rotate_link_and_identity_keys_print_rings_with_the_new_key_first() -> None:
    import argparse

    from antibully.rotate import run

    old_link, old_seed = new_key_b64(), new_key_b64()
    old_public = assertions.public_key_b64(old_seed)
    settings = Settings(link_key=old_link, identity_signing_key=old_seed, identity_public_key=old_public)
    code, lines = run(argparse.Namespace(key="link-key"), settings)
    ring = next(line for line in lines if line.startswith("LINK_KEY=")).removeprefix("LINK_KEY=").split(",")
    assert code == 0 and len(ring) == 2 and ring[1] == old_link and ring[0] != old_link
    claims = LinkClaims(uuid.uuid4(), "AB-1", int(NOW.timestamp()) + 60)
    assert Links(",".join(ring)).verify(Links(old_link).sign(claims), NOW) == claims
    code, lines = run(argparse.Namespace(key="identity-key"), settings)
    public = next(line for line in lines if line.startswith("IDENTITY_PUBLIC_KEY=")).split("=", 1)[1].split(",")
    seed = next(line for line in lines if line.startswith("IDENTITY_SIGNING_KEY=")).split("=", 1)[1]
    assert public == [assertions.public_key_b64(seed), old_public]
    assert lines[0].startswith("1. set this IDENTITY_PUBLIC_KEY for intake")  # intake first, then the archive
