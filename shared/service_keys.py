"""Which secrets each service holds, and the refusal of keys that were ever public (pure).

`SERVICE_SECRETS` is the one table of who holds which secret setting: compose.yaml gives each service
exactly its row (tests/test_service_keys.py parses it), `make run` hands each child process only its
row (`service_env`), and docs/security.md explains each key. A secret may belong to several services
(the letters' contact key is intake's and notify's); everything not in the table is not a secret and
every service may see it. Names of settings other engineers add in issue 14 (per-service NATS seeds and
PostgreSQL logins) are listed already: a name with no Settings field is simply not passed to anyone.

`refusals` names the settings that hold a key committed to the repository at some time (the old
compose defaults: only their SHA-256 fingerprints are kept here) or an all-zero or too short key;
every service refuses to start with one unless ANTIBULLY_DEV_MODE=1 (a throw-away local system).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
from collections.abc import Mapping
from urllib.parse import urlsplit

# Producers seal children's data for the archive and notify with their public keys (not secret, but each
# producer must hold the right ones: a swapped key would seal for an attacker).
_BUS_PUBLIC = ("archive_bus_public_key", "notify_bus_public_key")

SERVICE_SECRETS: dict[str, frozenset[str]] = {
    "intake": frozenset({
        "intake_data_key", "letter_contact_key", "pseudonym_key", "identity_public_key", "dead_letter_key",
        "intake_database_url", "intake_nats_seed", *_BUS_PUBLIC,
    }),
    "escalation": frozenset({
        "pseudonym_key", "escalation_data_key", "dead_letter_key",
        "escalation_database_url", "escalation_nats_seed",
    }),
    "notify": frozenset({
        "link_key", "notify_data_key", "letter_contact_key", "dead_letter_key", "receipt_token", "webhook_secret",
        "dingtalk_secret", "aliyun_access_key_id", "aliyun_access_key_secret", "tencent_secret_id",
        "tencent_secret_key", "notify_database_url", "notify_nats_seed", "notify_bus_private_key", "smtp_password",
        *_BUS_PUBLIC,
    }),
    "archive": frozenset({
        "archive_data_key", "archive_kek", "archive_signing_key", "identity_signing_key", "dead_letter_key",
        "archive_database_url", "archive_nats_seed", "archive_bus_private_key", *_BUS_PUBLIC,
    }),
    "console": frozenset({"console_session_key"}),
    # infrastructure: compose's nats and postgres containers, and the setup step that creates streams
    "nats": frozenset({"nats_jetstream_key"}),
    "postgres": frozenset({"postgres_password"}),
    "nats-setup": frozenset({"nats_admin_seed"}),
    # the one-shot migration (and the admin's commands): the admin's login and each role's, to set its password
    "migrate": frozenset({"database_url", "intake_database_url", "escalation_database_url", "notify_database_url",
                          "archive_database_url"}),
}
APP_SERVICES = ("intake", "escalation", "notify", "archive", "console")
ALL_SECRETS: frozenset[str] = frozenset().union(*SERVICE_SECRETS.values())

# Secrets a deployment may leave empty (the feature is then off): compose passes them as `${VAR:-}`.
# Every other secret is required: `${VAR:?…}`, no default.
OPTIONAL: frozenset[str] = frozenset({
    "receipt_token", "webhook_secret", "dingtalk_secret", "aliyun_access_key_id", "aliyun_access_key_secret",
    "tencent_secret_id", "tencent_secret_key", "smtp_password",
})

# Keys that must be base64 of at least 32 random bytes (a ring: comma-separated, current first).
KEYS: frozenset[str] = frozenset({
    "link_key", "archive_data_key", "archive_kek", "archive_signing_key", "identity_signing_key",
    "identity_public_key", "intake_data_key", "letter_contact_key", "pseudonym_key", "escalation_data_key",
    "notify_data_key", "dead_letter_key", "console_session_key", "archive_bus_private_key", "notify_bus_private_key",
    "archive_bus_public_key", "notify_bus_public_key",
})

# SHA-256 of every key ever committed to the repository (the decoded bytes of a base64 key, the text of
# a password): the compose defaults before issue 14. Never the keys themselves.
COMMITTED: frozenset[str] = frozenset({
    "183ba87ec4a3343ceb90e0526546c7f4104951c074ef791792838d35e0fcbb15",  # LINK_KEY
    "7c95f504899d193105f9ac90bf205eca560b390a8655275a9e550e2bbcbf7c11",  # ARCHIVE_DATA_KEY
    "7df8931846a0d87296d808c4b9a6a9d0d0bb914a7c9aa69bb71fc883d6d31bf4",  # INTAKE_DATA_KEY
    "6f559d016a44f77765f6be2a17a74f0667fdf89686066688503cbc3fdcc00b50",  # LETTER_CONTACT_KEY
    "0bf9aa060263c65df824766c10210a0bef14ecd3bd9a72bf3511da31037de40a",  # PSEUDONYM_KEY
    "4f71c61cea6a8db3a909b949b4c613f8943ae99d747925852cb1aa231fa88a16",  # ESCALATION_DATA_KEY
    "a2558267b45646f4d7e9bcefa6d8b2b326a170e5a7e51093a2ee635bc3072ac4",  # ARCHIVE_KEK
    "45721b109a844ba2c86aa0732c119a812999b09c9457a1a151eec565506bbfc9",  # ARCHIVE_SIGNING_KEY
    "c665fe73b017c62ebfcc26b9e8f574bd834de67d8f3006dd903aaf2d603b6cd1",  # NOTIFY_DATA_KEY
    "ec64e99b974162269b5e3fd81c3b18f0cc63d2dcba031fa7654a32cef8da224d",  # IDENTITY_SIGNING_KEY
    "03306525f46dd9239e6657883467fd54e9b982bfa2c83baaf2df34850de1ffd8",  # IDENTITY_PUBLIC_KEY (its seed's)
    "d0a378422bb775aab8c42aae686c0ba5ce24651026044205310c09fca0fabb8e",  # CONSOLE_SESSION_KEY
    "e65e364025b4b72d97b4477ab699e48270f294aa6b656a2e6dfeb6d115e2c16b",  # NATS_JETSTREAM_KEY (text)
    "cf11c25cdf916f1b2ce3d406321763782d25751e071552046280cc806ebabbbe",  # POSTGRES_PASSWORD (text)
    "96b52aca08c8ea77ba0ccdf10ace3a938041fb11e62ceaac5f572af42eb1be72",  # ARCHIVE_READ_TOKEN (text, retired)
})
MIN_KEY_BYTES = 32


def env_name(setting: str) -> str:
    return setting.upper()


def fingerprints(value: str) -> set[str]:
    """SHA-256 of a value as text and, when it is base64, of its bytes."""
    found = {hashlib.sha256(value.encode()).hexdigest()}
    with contextlib.suppress(binascii.Error, ValueError):
        found.add(hashlib.sha256(base64.b64decode(value, validate=True)).hexdigest())
    return found


def _entry_problem(setting: str, entry: str) -> str | None:
    if fingerprints(entry) & COMMITTED:
        return (f"{env_name(setting)} holds a development key that was committed to the repository, so it is "
                "public: make a new one (see docs/security.md)")
    if setting not in KEYS:
        return None
    try:
        raw = base64.b64decode(entry, validate=True)
    except (binascii.Error, ValueError):
        return None  # not base64: the service's own check refuses it with its own message
    if raw and raw == bytes(len(raw)):
        return f"{env_name(setting)} is all zeros: make a random key (see docs/security.md)"
    if len(raw) < MIN_KEY_BYTES:
        return f"{env_name(setting)} is {len(raw)} bytes: a key must be at least {MIN_KEY_BYTES} random bytes"
    return None


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def refusals(values: Mapping[str, object], service: str) -> list[str]:
    """What is wrong with the secrets `service` holds, one line per setting (never the value itself)."""
    problems: list[str] = []
    held = SERVICE_SECRETS.get(service, ALL_SECRETS)  # a process not in the table: every one
    if any(f"{service}_database_url" in row for row in SERVICE_SECRETS.values()):
        held |= {"database_url"}  # its fallback login when its own URL is empty
    for setting in sorted(held):
        value = values.get(setting)
        if not isinstance(value, str) or not value.strip():
            continue
        if setting.endswith("database_url"):
            password = _password(value)
            if password and fingerprints(password) & COMMITTED:
                problems.append(f"{env_name(setting)} logs in with a password that was committed to the "
                                "repository: set a new one (see docs/security.md)")
            continue
        for entry in (e.strip() for e in value.split(",")) if setting in KEYS else (value.strip(),):
            if entry and (problem := _entry_problem(setting, entry)):
                problems.append(problem)
                break
    return problems


def service_env(env: Mapping[str, str], service: str) -> dict[str, str]:
    """`env` without any other service's secrets: what `make run` hands a child process of `service`."""
    mine = SERVICE_SECRETS[service]
    return {k: v for k, v in env.items() if k.lower() not in ALL_SECRETS or k.lower() in mine}
