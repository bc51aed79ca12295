"""NATS nkeys: a user seed per role (each service, the admin) and the public keys the server trusts.

A seed (`SU…`) is a private key: the service holding it signs the server's nonce at connect. The
server's configuration holds only the public keys (`U…`), so it can be generated and shared freely.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import nkeys  # type: ignore[import-untyped]

from shared.bus_topology import ADMIN, ROLES


def new_seed() -> str:
    return str(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode())


def public_key(seed: str) -> str:
    """The user's public key (`U…`); refuses anything but a user seed."""
    try:
        key = str(nkeys.from_seed(bytearray(seed.strip().encode())).public_key.decode())
    except Exception as exc:  # noqa: BLE001 - nkeys raises several kinds; the message must not echo the seed
        raise ValueError("not an nkey user seed (SU…)") from exc.__class__(type(exc).__name__)
    if not key.startswith("U"):
        raise ValueError("not an nkey user seed (SU…)")
    return key


def setting_name(role: str) -> str:
    """The setting (and environment variable, upper-cased) that holds a role's seed."""
    return "nats_admin_seed" if role == ADMIN else f"{role}_nats_seed"


@dataclass(frozen=True)
class NatsKeys:
    """A seed per role."""

    seeds: dict[str, str]

    @classmethod
    def generate(cls) -> NatsKeys:
        return cls({role: new_seed() for role in ROLES})

    def public_keys(self) -> dict[str, str]:
        return {role: public_key(seed) for role, seed in self.seeds.items()}

    def env(self) -> dict[str, str]:
        """Every seed as its environment variable (for a test rig; a deployment gives each only its own)."""
        return {setting_name(role).upper(): seed for role, seed in self.seeds.items()}

    def settings(self) -> dict[str, str]:
        return {setting_name(role): seed for role, seed in self.seeds.items()}
