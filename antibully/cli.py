"""The `antibully` command: `run` (the whole system locally), `migrate` (roles, schemas and grants; before
the services start), `schools` (schools and their API keys), `officials` (officials' accounts for the
archive), `verify` and the archive's keys, `dead-letters` (what the consumers gave up on), `nats-setup`,
`nats-keys`, `nats-auth` and `nats-certs` (the bus's streams, users and TLS), `rotate` and `new-env` (keys),
`backup`, `restore` and `replay-streams` (a dump with a manifest; a restore that migrates and verifies; the bus
replayed into it)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from shared.config import get_settings


@asynccontextmanager
async def _intake_db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    from services.intake import repository
    from shared.db import create_pool

    pool = await create_pool(database_url, repository.SCHEMA, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


async def add_school(database_url: str, school_id: str, name: str) -> str:
    """Create or rename a school and issue it a new API key; returns the key (shown once)."""
    from services.intake import keys, repository

    async with _intake_db(database_url) as pool, pool.acquire() as conn, conn.transaction():
        key = keys.new_key()
        await repository.upsert_school(conn, school_id, name)
        await repository.add_key(conn, key.key_id, school_id, key.secret_sha256)
        return key.token


async def add_key(database_url: str, school_id: str) -> str:
    """Another active key for a school (rotation: add the new, switch, revoke the old)."""
    from services.intake import keys, repository

    async with _intake_db(database_url) as pool:
        if not await repository.school_exists(pool, school_id):
            raise SystemExit(f"no school {school_id!r}; add it with `antibully schools add`")
        key = keys.new_key()
        await repository.add_key(pool, key.key_id, school_id, key.secret_sha256)
        return key.token


async def add_access_code(database_url: str, school_id: str) -> str:
    """A new help-request access code for a school (print it on posters, class notices, the school site)."""
    from services.intake import repository
    from services.intake.help_cases import new_access_code

    async with _intake_db(database_url) as pool:
        if not await repository.school_exists(pool, school_id):
            raise SystemExit(f"no school {school_id!r}; add it with `antibully schools add`")
        code = new_access_code()
        await repository.add_access_code(pool, code, school_id)
        return code


async def revoke_key(database_url: str, key_id: str) -> bool:
    from services.intake import repository

    async with _intake_db(database_url) as pool:
        return await repository.revoke_key(pool, key_id)


async def list_keys(database_url: str, school_id: str) -> list[str]:
    from services.intake import repository

    async with _intake_db(database_url) as pool:
        return [
            f"{k.key_id}  created {k.created_at:%Y-%m-%d %H:%M}  "
            + (f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active")
            for k in await repository.list_keys(pool, school_id)
        ]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="antibully", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the whole system on embedded defaults (what `make run` does)")
    schools = sub.add_parser("schools", help="schools and their API keys (uses DATABASE_URL)").add_subparsers(
        dest="action", required=True)
    add = schools.add_parser("add", help="add a school (or rename it) and print a new API key")
    add.add_argument("school_id")
    add.add_argument("--name", required=True)
    keys = schools.add_parser("keys", help="list, add or revoke a school's API keys").add_subparsers(
        dest="keys_action", required=True)
    keys.add_parser("list", help="a school's keys by key id").add_argument("school_id")
    keys.add_parser("add", help="print a new key for a school (keep the old one until switched)").add_argument(
        "school_id")
    keys.add_parser("revoke", help="revoke a key by its key id (the part after 'ab_')").add_argument("key_id")
    verify = sub.add_parser("verify", help="check every archive chain and signed checkpoint (uses DATABASE_URL)")
    verify.add_argument("--public-key", action="append", help="base64 Ed25519 public key the checkpoints must be "
                        "signed with; repeat it (or give a comma-separated list) for every key of a rotation")
    sub.add_parser("archive-public-key", help="print the public key of ARCHIVE_SIGNING_KEY (for auditors)")
    sub.add_parser("identity-public-key", help="print IDENTITY_PUBLIC_KEY (for intake) of IDENTITY_SIGNING_KEY")
    sub.add_parser("migrate", help="create or update every service's role and schema, apply the numbered "
                   "migrations not yet applied, and grant (as DATABASE_URL, the admin; before the new release's "
                   "services start, on every release)")
    sub.add_parser("bus-keys", help="print a new X25519 key pair for a bus reader (archive or notify): "
                   "its *_BUS_PRIVATE_KEY and the *_BUS_PUBLIC_KEY producers seal with")
    sub.add_parser("archive-migrate", help="deprecated: the same as `migrate`")
    schools.add_parser("access-code", help="print a new help-request access code for a school").add_argument(
        "school_id")
    officials = sub.add_parser("officials", help="officials' accounts for the archive (uses DATABASE_URL)"
                               ).add_subparsers(dest="action", required=True)
    official = officials.add_parser(
        "add", help="add an account (or update it and reset its password)",
        description="The password is read from stdin with --password-stdin, else from $ANTIBULLY_OFFICIAL_PASSWORD, "
                    "else asked on the terminal.")
    official.add_argument("account_id")
    official.add_argument("--role", required=True, choices=["school", "bureau", "police", "stability_office"])
    official.add_argument("--jurisdiction", required=True)
    official.add_argument("--school", dest="school_id", help="the school, for (and only for) a school account")
    official.add_argument("--title", choices=["head", "head_teacher", "counsellor"],
                          help="a school account's staff title (default: head)")
    official.add_argument("--name", required=True, help="display name")
    official.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    officials.add_parser("disable", help="stop an account: no more logins, its tokens end now "
                                         "(`add` again re-enables it)").add_argument("account_id")
    directory = sub.add_parser("directory", help="the officials' directory").add_subparsers(
        dest="action", required=True)
    directory.add_parser("check", help="validate DIRECTORY_FILE and report entries no configured channel reaches"
                         ).add_argument("--file", type=Path, help="another directory file to check")
    from antibully import backup, dead_letters, nats_admin, rotate

    backup.add_parsers(sub)
    dead_letters.add_parser(sub)
    rotate.add_parser(sub)
    nats_admin.add_parsers(sub)
    return parser


def _add_official(args: argparse.Namespace) -> int:
    from antibully.officials import AccountError, add_official, check_account, disable_official, read_password

    if args.action == "disable":
        if not asyncio.run(disable_official(get_settings().database_url, args.account_id)):
            print(f"antibully officials disable: no active account {args.account_id!r}", file=sys.stderr)
            return 1
        print(f"official {args.account_id} disabled; their tokens no longer work")
        return 0

    try:
        check_account(args.role, args.school_id, args.title)
        password = read_password(args.password_stdin)
        asyncio.run(add_official(get_settings().database_url, args.account_id, role=args.role,
                                 jurisdiction=args.jurisdiction, name=args.name, password=password,
                                 school_id=args.school_id, title=args.title))
    except AccountError as exc:
        print(f"antibully officials add: {exc}", file=sys.stderr)
        return 2
    print(f"official {args.account_id} ({args.role}, {args.jurisdiction}) saved")
    return 0


def main(argv: list[str] | None = None) -> int:
    from shared.db import NotMigrated

    try:
        return _main(argv)
    except NotMigrated as exc:
        print(f"antibully: {exc}", file=sys.stderr)
        return 1


def _migrate(command: str) -> int:
    from antibully.migrate import MigrateError, migrate_database

    if command == "archive-migrate":
        print("antibully archive-migrate is deprecated: it runs `antibully migrate` (every service)", file=sys.stderr)
    try:
        done = asyncio.run(migrate_database(get_settings()))
    except MigrateError as exc:
        print(f"antibully migrate: {exc}", file=sys.stderr)
        return 2
    print("\n".join([*done, "migrated: the services may start"]))
    return 0


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        from antibully.launcher import run

        return run()
    if args.command == "identity-public-key":
        from shared.assertions import public_key_b64

        if not (seed := get_settings().identity_signing_key):
            print("IDENTITY_SIGNING_KEY is not set", file=sys.stderr)
            return 1
        print(public_key_b64(seed))
        return 0
    if args.command == "bus-keys":
        from shared.bus_seal import new_private_key_b64
        from shared.bus_seal import public_key_b64 as bus_public_key

        private = new_private_key_b64()
        print(f"private {private}\npublic  {bus_public_key(private)}")
        return 0
    if args.command in ("migrate", "archive-migrate"):
        return _migrate(args.command)
    if args.command in ("verify", "archive-public-key"):
        return _archive(args)
    if args.command == "officials":
        return _add_official(args)
    if args.command == "dead-letters":
        from antibully import dead_letters

        code, lines = asyncio.run(dead_letters.run(args, get_settings()))
        print("\n".join(lines))
        return code
    if args.command in ("backup", "restore", "replay-streams"):
        from antibully import backup

        code, lines = backup.run(args, get_settings())
        print("\n".join(lines), file=sys.stdout if code == 0 else sys.stderr)
        return code
    if args.command == "new-env":
        from antibully.rotate import new_env

        print("\n".join(new_env()))
        return 0
    if args.command == "rotate":
        from antibully import rotate

        code, lines = rotate.run(args, get_settings())
        print("\n".join(lines))
        return code
    if args.command.startswith("nats-"):
        from antibully import nats_admin

        code, lines = nats_admin.run(args, get_settings())
        print("\n".join(lines), file=sys.stdout if code == 0 else sys.stderr)
        return code
    if args.command == "directory":
        from antibully.directory import check

        settings = get_settings()
        code, lines = check(args.file or settings.directory_file, settings)
        print("\n".join(lines))
        return code
    url = get_settings().database_url
    if args.action == "access-code":
        print(f"help-request access code for {args.school_id}: {asyncio.run(add_access_code(url, args.school_id))}")
    elif args.action == "add":
        token = asyncio.run(add_school(url, args.school_id, args.name))
        print(f"school {args.school_id} added; its new API key (shown only now):\n{token}")
    elif args.keys_action == "list":
        print("\n".join(asyncio.run(list_keys(url, args.school_id))) or f"no keys for {args.school_id}")
    elif args.keys_action == "add":
        print(f"new API key for {args.school_id} (shown only now):\n{asyncio.run(add_key(url, args.school_id))}")
    elif args.keys_action == "revoke":
        if not asyncio.run(revoke_key(url, args.key_id)):
            print(f"no active key {args.key_id}", file=sys.stderr)
            return 1
        print(f"key {args.key_id} revoked")
    return 0


def _archive(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.command == "verify":
        from antibully.verify import parse_public_keys, verify

        verdict = asyncio.run(verify(settings.database_url,
                                     parse_public_keys(args.public_key) if args.public_key else None))
        print(verdict)
        return 1 if verdict.broken else 0
    if args.command == "archive-public-key":
        from services.archive.checkpoint import CheckpointSigner, public_key_b64

        if not settings.archive_signing_key:
            print("ARCHIVE_SIGNING_KEY is not set", file=sys.stderr)
            return 1
        fingerprint = CheckpointSigner(settings.archive_signing_key).fingerprint
        print(f"{public_key_b64(settings.archive_signing_key)}  (fingerprint {fingerprint})")
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
