"""The archive's database schema, and the rights of the service's role in it."""

from __future__ import annotations

import re

import asyncpg

from shared.db import Conn

SCHEMA = "archive"  # the database schema of the archive's tables (schema.sql)

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


async def grant_app_role(conn: Conn, role: str) -> bool:
    """Make `role` able to run archive and nothing more: no UPDATE/DELETE/TRUNCATE on entries,
    checkpoints or the access log, no DELETE of case keys. Creates it (NOLOGIN) when the login role may create roles.

    False when the role neither exists nor can be created (then the login role's rights apply).
    Run as the tables' owner, in the migration's transaction.
    """
    if not _ROLE_NAME.fullmatch(role):
        raise ValueError(f"ARCHIVE_DB_ROLE {role!r} is not a plain lower-case role name")
    me = await conn.fetchrow("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    assert me is not None
    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        if not (me["rolsuper"] or me["rolcreaterole"]):
            return False
        try:
            async with conn.transaction():  # a savepoint: another database's migration may create it first
                await conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        except asyncpg.DuplicateObjectError:
            pass
    if (me["rolcreaterole"] and not me["rolsuper"]
            and not await conn.fetchval("SELECT pg_has_role(current_user, $1, 'MEMBER')", role)):
        await conn.execute(f'GRANT "{role}" TO CURRENT_USER')  # so that its own sessions may act as it
    await conn.execute(
        f'REVOKE ALL ON ALL TABLES IN SCHEMA "{SCHEMA}" FROM "{role}";'
        f' GRANT USAGE ON SCHEMA "{SCHEMA}" TO "{role}";'
        f' GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{SCHEMA}" TO "{role}";'
        f' REVOKE UPDATE, DELETE ON entries, checkpoints, access_log FROM "{role}";'
        f' REVOKE DELETE ON case_keys FROM "{role}";'
        f' GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{SCHEMA}" TO "{role}"'
    )
    return True
