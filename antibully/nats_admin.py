"""`antibully nats-setup`, `nats-keys`, `nats-auth` and `nats-certs`: the bus's users, streams and TLS.

- `nats-keys`: new nkey seeds, one per service and one for the admin, as environment lines;
- `nats-auth`: the server's authorization include (deploy/nats.conf reads `nats-auth.conf`) from those
  seeds' public keys and the permission table (shared/bus_topology.py);
- `nats-setup`: every stream and durable consumer created or updated, as the admin (NATS_ADMIN_SEED);
- `nats-certs DIR`: a CA and a server certificate for nats-server's TLS (the services get the CA as NATS_TLS_CA).
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
from pathlib import Path

from shared.bus_topology import ROLES, authorization_conf
from shared.config import Settings
from shared.nats_keys import NatsKeys, setting_name

SERVER_NAMES = ("nats", "nats-1", "nats-2", "nats-3", "localhost", "127.0.0.1")  # compose's nodes


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("nats-setup", help="create or update every NATS stream and consumer (uses NATS_ADMIN_SEED)")
    sub.add_parser("nats-keys", help="print new NATS nkey seeds, one per service and the admin's, as env lines")
    auth = sub.add_parser("nats-auth", help="write nats-server's authorization include from the seeds in the "
                          "environment (*_NATS_SEED, NATS_ADMIN_SEED)")
    auth.add_argument("--out", type=Path, help="the file to write (default: standard output)")
    certs = sub.add_parser("nats-certs", help="make a CA and a server certificate for nats-server's TLS in DIR")
    certs.add_argument("dir", type=Path)
    certs.add_argument("--name", action="append", help=f"a name or IP the server is reached by "
                       f"(repeatable; default: {', '.join(SERVER_NAMES)})")
    certs.add_argument("--days", type=int, default=825, help="validity of the server certificate")


def run(args: argparse.Namespace, settings: Settings) -> tuple[int, list[str]]:
    if args.command == "nats-keys":
        keys = NatsKeys.generate()
        return 0, ["# NATS nkey seeds: give each service only its own line; keep NATS_ADMIN_SEED for operators",
                   *(f"{name}={seed}" for name, seed in keys.env().items())]
    if args.command == "nats-auth":
        seeds = {role: getattr(settings, setting_name(role)) for role in ROLES}
        missing = [setting_name(r).upper() for r, seed in seeds.items() if not seed]
        if missing:
            return 2, [f"not set: {', '.join(missing)} (`antibully nats-keys` makes them)"]
        text = authorization_conf(NatsKeys(seeds).public_keys())
        if args.out is None:
            return 0, [text]
        args.out.write_text(text)
        return 0, [f"wrote {args.out}"]
    if args.command == "nats-setup":
        import asyncio

        from shared.bus import setup_nats

        if not settings.nats_admin_seed:
            return 2, ["NATS_ADMIN_SEED is not set"]
        asyncio.run(setup_nats(settings))
        return 0, ["NATS streams and consumers are set up"]
    if args.command == "nats-certs":
        files = make_certificates(args.dir, tuple(args.name or SERVER_NAMES), args.days)
        return 0, [f"wrote {', '.join(str(f) for f in files)}",
                   "nats-server: --tls --tlscert server.pem --tlskey server-key.pem; services: NATS_TLS_CA=ca.pem"]
    raise ValueError(args.command)


def make_certificates(directory: Path, names: tuple[str, ...] = SERVER_NAMES, days: int = 825,
                      ca_name: str = "antibully NATS CA") -> tuple[Path, Path, Path]:
    """`ca.pem` (the services' NATS_TLS_CA), `server.pem` and `server-key.pem` (nats-server's; 0600). The
    CA's own key signs once here and is not kept: a new server certificate means a new CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca = (x509.CertificateBuilder().subject_name(ca_subject).issuer_name(ca_subject)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # CLIENT_AUTH too: a cluster's servers verify each other's certificate on their routes
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return ca_file, cert_file, key_file
