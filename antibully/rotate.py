"""`antibully rotate …`: key rotation (docs/security.md, "Keys: who holds which, how they are made and rotated").

`archive-kek` rewraps every live case key under the current ARCHIVE_KEK (the first of the ring) in
batches, each its own transaction: interrupted, it is simply run again (rows already under the
current KEK are not touched), and two runs at once share the rows. The data keys themselves, and so
every sealed payload, stay as they are. The other subcommands make a new key and print the settings
to deploy, in the order that keeps every token, assertion and checkpoint verifiable.
"""

from __future__ import annotations

import argparse
import uuid
from dataclasses import dataclass, field

import asyncpg
from cryptography.exceptions import InvalidTag

from shared.config import Settings
from shared.crypto import new_key_b64
from shared.keyring import split


@dataclass
class KekRotation:
    current: str
    rewrapped: int = 0
    batches: int = 0
    failed: list[uuid.UUID] = field(default_factory=list)  # wraps that would not open under their KEK
    remaining: dict[str, int] = field(default_factory=dict)  # live keys per KEK id after the run

    def lines(self) -> list[str]:
        out = [f"rewrapped {self.rewrapped} case key(s) under KEK {self.current} in {self.batches} batch(es)"]
        out += [f"!! case {case}: its key would not open under the KEK its kek_id names; left as it was"
                for case in self.failed]
        others = {k: n for k, n in self.remaining.items() if k != self.current}
        if others:
            out.append("still under other KEKs (keep them in ARCHIVE_KEK): "
                       + ", ".join(f"{k}: {n}" for k, n in sorted(others.items())))
        else:
            out.append(f"every live case key is under {self.current}: ARCHIVE_KEK may now hold that key alone")
        return out


async def rotate_archive_kek(database_url: str, kek_setting: str, batch: int = 500) -> KekRotation:
    """Rewrap every case key under a KEK of the ring other than the current one. Keys under a KEK id the
    ring does not hold cannot be rewrapped: they are reported in `remaining`, never guessed at."""
    from services.archive import repository
    from services.archive.payloads import Payloads, kek_ring

    payloads = Payloads(kek_ring(kek_setting))
    ring = payloads.ring
    report = KekRotation(ring.current_id)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": repository.SCHEMA})
    try:
        after: uuid.UUID | None = None
        while True:
            async with conn.transaction():
                rows = await repository.keys_to_rewrap(conn, list(ring.ids[1:]), after, batch)
                for row in rows:
                    case = row["incident_id"]
                    try:
                        wrapped = payloads.rewrap(case, bytes(row["wrapped_dek"]), row["kek_id"])
                    except InvalidTag:
                        report.failed.append(case)
                        continue
                    if await repository.rewrap_case_key(conn, case, row["kek_id"], wrapped, ring.current_id):
                        report.rewrapped += 1
            if not rows:
                break
            report.batches += 1
            after = rows[-1]["incident_id"]
        report.remaining = await repository.kek_counts(conn)
    finally:
        await conn.close()
    return report


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser("new-env", help="print an .env for compose.yaml with a fresh random value for every secret")
    rotate = sub.add_parser("rotate", help="rotate a key (see docs/security.md)").add_subparsers(
        dest="key", required=True)
    kek = rotate.add_parser("archive-kek", help="rewrap every case key under the first key of ARCHIVE_KEK "
                            "(uses DATABASE_URL; resumable, idempotent)")
    kek.add_argument("--batch", type=int, default=500, help="case keys per transaction (default 500)")
    rotate.add_parser("link-key", help="print LINK_KEY with a new current key in front of the present ones")
    rotate.add_parser("archive-signing-key", help="print a new ARCHIVE_SIGNING_KEY and the public keys "
                      "`antibully verify` then takes")
    rotate.add_parser("identity-key", help="print a new IDENTITY_SIGNING_KEY and the IDENTITY_PUBLIC_KEY ring "
                      "intake takes during the overlap")


_PUBLIC_HALVES = ("archive_bus_public_key", "notify_bus_public_key")


def new_env() -> list[str]:
    """An .env for compose: a fresh random value for every required secret (shared/service_keys.py)."""
    import secrets

    from shared.bus_seal import public_key_b64 as bus_public_key
    from shared.config import DB_SERVICES
    from shared.nats_keys import NatsKeys
    from shared.service_keys import ALL_SECRETS, KEYS, OPTIONAL

    values = {name: new_key_b64() for name in sorted(KEYS - {"identity_public_key", *_PUBLIC_HALVES})}
    for reader in ("archive", "notify"):  # the bus's readers: an X25519 pair each (antibully bus-keys)
        values[f"{reader}_bus_public_key"] = bus_public_key(values[f"{reader}_bus_private_key"])
    values["identity_public_key"] = _public(values["identity_signing_key"], "IDENTITY_SIGNING_KEY")
    values["postgres_password"] = secrets.token_urlsafe(24)
    values["nats_jetstream_key"] = secrets.token_hex(32)
    values |= NatsKeys.generate().settings()  # each service's NATS user and the setup step's admin
    assert set(values) <= ALL_SECRETS - OPTIONAL
    # each service's PostgreSQL login (compose builds its *_DATABASE_URL; `migrate` sets it on the role)
    values |= {f"{service}_db_password": secrets.token_urlsafe(24) for service in DB_SERVICES}
    # compose's cluster: the NATS nodes' route login (in a URL: hex) and Grafana's admin
    values |= {"nats_route_password": secrets.token_hex(24), "grafana_admin_password": secrets.token_urlsafe(24)}
    return ["# antibully secrets for compose.yaml, made by `antibully new-env`: keep this file out of git (chmod 600)",
            *(f"{name.upper()}={value}" for name, value in sorted(values.items()))]


def _public(seed: str, setting: str) -> str:
    from shared.assertions import public_key_b64

    return public_key_b64(seed, setting)


def run(args: argparse.Namespace, settings: Settings) -> tuple[int, list[str]]:
    """Exit code and the lines to print. Printed keys are secrets: run it where the operator types."""
    import asyncio

    if args.key == "archive-kek":
        value = settings.archive_kek or settings.archive_data_key
        if not value:
            return 1, ["ARCHIVE_KEK is not set"]
        report = asyncio.run(rotate_archive_kek(settings.database_url, value, args.batch))
        return (1 if report.failed else 0), report.lines()
    new = new_key_b64()
    if args.key == "link-key":
        ring = ",".join([new, *split(settings.link_key)])
        return 0, ["1. set this LINK_KEY for notify and restart it (new links are signed with the first key):",
                   f"LINK_KEY={ring}",
                   f"2. after LINK_TTL_S ({settings.link_ttl_s} s) every link signed by an older key has expired: "
                   "drop the older keys from LINK_KEY."]
    if args.key == "archive-signing-key":
        lines = ["1. set this ARCHIVE_SIGNING_KEY for the archive and restart it (new checkpoints are signed "
                 "with it; each checkpoint records its public key and fingerprint):",
                 f"ARCHIVE_SIGNING_KEY={new}",
                 "2. give auditors the new public key next to the old; `antibully verify` takes both:"]
        olds = [_public(s, "ARCHIVE_SIGNING_KEY") for s in split(settings.archive_signing_key)]
        keys = " ".join(f"--public-key {k}" for k in [_public(new, "ARCHIVE_SIGNING_KEY"), *olds])
        return 0, [*lines, f"antibully verify {keys}"]
    # identity-key: intake must accept the new public key before the archive signs with it
    ring = ",".join([_public(new, "IDENTITY_SIGNING_KEY"), *split(settings.identity_public_key)])
    return 0, ["1. set this IDENTITY_PUBLIC_KEY for intake and restart it (it accepts assertions of every key):",
               f"IDENTITY_PUBLIC_KEY={ring}",
               "2. then set this IDENTITY_SIGNING_KEY for the archive and restart it:",
               f"IDENTITY_SIGNING_KEY={new}",
               "3. once the archive runs the new key (assertions last minutes), drop the old public key from "
               "intake's IDENTITY_PUBLIC_KEY."]
