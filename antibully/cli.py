"""The `antibully` command: `run` (the whole system locally) and `schools` (school API keys)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from shared.config import get_settings


async def add_school(database_url: str, school_id: str, name: str) -> str:
    """Create or rename a school and issue it a new API key; returns the key (shown once)."""
    from services.intake import keys, repository
    from services.intake.app import SCHEMA_SQL
    from shared.db import create_pool, migrate

    pool = await create_pool(database_url, repository.SCHEMA, max_size=2)
    try:
        await migrate(pool, repository.SCHEMA, SCHEMA_SQL)
        key = keys.new_key()
        async with pool.acquire() as conn, conn.transaction():
            await repository.upsert_school(conn, school_id, name)
            await repository.add_key(conn, key.key_id, school_id, key.secret_sha256)
        return key.token
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="antibully", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the whole system on embedded defaults (what `make run` does)")
    schools = sub.add_parser("schools", help="manage schools and their API keys").add_subparsers(
        dest="action", required=True
    )
    add = schools.add_parser("add", help="add a school (or rename it) and print a new API key")
    add.add_argument("school_id")
    add.add_argument("--name", required=True)
    args = parser.parse_args(argv)

    if args.command == "run":
        from antibully.launcher import run

        return run()
    if args.command == "schools" and args.action == "add":
        token = asyncio.run(add_school(get_settings().database_url, args.school_id, args.name))
        print(f"school {args.school_id} added; its new API key (shown only now):\n{token}")
        return 0
    parser.error("unknown command")
    return 2


if __name__ == "__main__":
    sys.exit(main())
