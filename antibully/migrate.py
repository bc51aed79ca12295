"""`antibully migrate`: the one step that changes the database's shape and its rights (issues 14, 15).

Run with DATABASE_URL as the admin (a superuser, or a role with CREATEROLE that is or may become
the owner), as a release step before the new release's services start. It creates, if missing,
the owner role (NOLOGIN; owns every schema, table and function) and a login role per service
(NOSUPERUSER, NOCREATEDB, NOCREATEROLE, member of no role); then, per service schema, applies as
the owner the numbered migrations it has not applied yet (services/<service>/migrations, recorded
in the schema's schema_migrations; shared/migrations.py), adopting a database made by the
unversioned schema.sql of earlier releases, and grants each service's role what its code does in
its own schema and nothing elsewhere. The services never run DDL: they refuse to start until this
has run, and against a schema older than their code.

Roles are cluster-wide and grants per database, so it is safe to run against many databases of
one server at once (the tests do): role creation tolerates a concurrent twin, and the rest is
serialised per database by a session advisory lock (advisory locks are per database). Running it
twice applies nothing the second time.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from shared.config import DB_SERVICES, ServiceDatabase, Settings
from shared.db import Conn
from shared.migrations import VERSION_TABLE, MigrationError, apply_migrations, migrations_dir

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# What a service role may not have, whatever it had before.
_SERVICE_ATTRS = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
_OWNER_ATTRS = "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
_RELATION_KIND = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE"}


class MigrateError(RuntimeError):
    """A configuration the step refuses (said plainly for the operator)."""


@dataclass(frozen=True)
class ServiceSchema:
    service: str
    schema: str
    migrations: Path  # its numbered migrations
    deletable: tuple[str, ...]  # the tables the code DELETEs from; elsewhere SELECT, INSERT, UPDATE
    # tables on which the role gets less still: {table: privileges}
    restricted: dict[str, str]


def service_schemas() -> list[ServiceSchema]:
    """Each service with a database: its schema, its migrations and its narrower tables (the version
    table among them: the service reads it at start, only migrate writes it)."""
    from services.archive.repository import roles as archive
    from services.escalation import repository as escalation
    from services.intake import repository as intake
    from services.notify import repository as notify

    modules: dict[str, Any] = {"intake": intake, "escalation": escalation, "notify": notify, "archive": archive}
    return [ServiceSchema(s, modules[s].SCHEMA, migrations_dir(s), modules[s].DELETABLE,
                          getattr(modules[s], "RESTRICTED", {}) | {VERSION_TABLE: "SELECT"}) for s in DB_SERVICES]


async def migrate_database(settings: Settings, migrations: Mapping[str, Path] | None = None) -> list[str]:
    """Roles, schemas, migrations and grants for every service; returns what it did, line by line.
    `migrations` replaces a service's migrations directory (tests: a migration that ships nowhere)."""
    logins = [settings.service_database(s) for s in DB_SERVICES]
    owner = settings.db_owner_role
    conn = await asyncpg.connect(settings.database_url)
    try:
        me = await conn.fetchrow("SELECT rolname, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        assert me is not None
        _check_names(me["rolname"], owner, logins)
        if me["rolname"] != owner and not (me["rolsuper"] or me["rolcreaterole"]):
            raise MigrateError(f"DATABASE_URL logs in as {me['rolname']!r}, which can neither create roles nor is "
                               f"the owner {owner!r}: run `antibully migrate` as a superuser or as the owner")
        done: list[str] = []
        if me["rolname"] != owner:
            if await _ensure_role(conn, owner, _OWNER_ATTRS, None, enforce=False):
                done.append(f"created role {owner} (owner of the schemas)")
            if not me["rolsuper"] and not await conn.fetchval("SELECT pg_has_role($1, 'MEMBER')", owner):
                await conn.execute(f'GRANT "{owner}" TO CURRENT_USER')  # so that it may act as the owner
        for db in logins:
            if await _ensure_role(conn, db.role, _SERVICE_ATTRS, db.password, enforce=True):
                done.append(f"created role {db.role} ({db.service})")
        roles = {db.service: db.role for db in logins}
        acting = owner if me["rolname"] != owner else None
        # a session lock, held across the migrations' own transactions; per database (so are advisory locks)
        await conn.execute("SELECT pg_advisory_lock(hashtext('antibully-migrate'))")
        try:
            for spec in service_schemas():
                async with conn.transaction():
                    await _take_ownership(conn, spec.schema, owner)
                try:
                    done += await apply_migrations(conn, spec.schema, (migrations or {}).get(spec.service,
                                                                                             spec.migrations),
                                                   role=acting)
                except MigrationError as exc:
                    raise MigrateError(str(exc)) from None
                async with conn.transaction():
                    if acting:
                        await conn.execute(f'SET LOCAL ROLE "{owner}"')
                    await _grant(conn, spec, roles[spec.service])
                done.append(f"schema {spec.schema}: owned by {owner}, used by {roles[spec.service]}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('antibully-migrate'))")
        return done
    finally:
        await conn.close()


def _check_names(admin: str, owner: str, logins: list[ServiceDatabase]) -> None:
    for name in (owner, *(db.role for db in logins)):
        if not _ROLE_NAME.fullmatch(name):
            raise MigrateError(f"{name!r} is not a plain lower-case role name")
    for db in logins:
        if db.role in (admin, owner):
            raise MigrateError(f"{db.service.upper()}_DATABASE_URL logs in as {db.role!r}, the admin or the owner: "
                               f"give each service a role of its own (e.g. antibully_{db.service})")
    if len({db.role for db in logins}) != len(logins):
        raise MigrateError("two services share a database role: give each service a role of its own")


async def _ensure_role(conn: Conn, name: str, attrs: str, password: str | None, *, enforce: bool) -> bool:
    """Create `name` if missing (True); with `enforce`, also take away any attribute or membership
    beyond `attrs`, and set `password` when given and different. A concurrent twin (another
    database's migration on the same server) is waited out and retried."""
    for attempt in range(10):
        try:
            async with conn.transaction():
                return await _ensure_role_once(conn, name, attrs, password, enforce=enforce)
        except (asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError, asyncpg.InternalServerError):
            # "tuple concurrently updated" (XX000) or a duplicate: the other migration won; look again
            if attempt == 9:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


async def _ensure_role_once(conn: Conn, name: str, attrs: str, password: str | None, *, enforce: bool) -> bool:
    row = await conn.fetchrow(
        "SELECT oid, rolsuper, rolcanlogin, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolinherit"
        " FROM pg_roles WHERE rolname = $1", name)
    if row is None:
        await conn.execute(f'CREATE ROLE "{name}" {attrs}')
    elif enforce and (row["rolsuper"] or row["rolcreatedb"] or row["rolcreaterole"] or row["rolreplication"]
                      or row["rolbypassrls"] or row["rolinherit"] or not row["rolcanlogin"]):
        await conn.execute(f'ALTER ROLE "{name}" {attrs}')
    if enforce:
        for granted in await conn.fetch(
                "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
                " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1", name):
            await conn.execute(f'REVOKE "{granted["rolname"]}" FROM "{name}"')
    if password is not None and not await _password_is(conn, name, password):
        # a SCRAM verifier, never the password itself, reaches the server (and its statement log)
        await conn.execute(f"ALTER ROLE \"{name}\" PASSWORD '{scram_verifier(password)}'")
    return row is None


async def _password_is(conn: Conn, name: str, password: str) -> bool:
    """Whether the role's stored SCRAM verifier matches `password` (False when it cannot be read)."""
    if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        return False  # only a superuser may read pg_authid: set it again
    stored = await conn.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", name)
    match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", stored or "")
    if not match:
        return False
    iterations, salt = int(match[1]), base64.b64decode(match[2])
    return hmac.compare_digest(scram_verifier(password, salt, iterations), stored)


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of `password` (RFC 5802/7677; no SASLprep beyond NFKC)."""
    import unicodedata

    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", unicodedata.normalize("NFKC", password).encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    b64 = base64.b64encode
    return (f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}$"
            f"{b64(stored_key).decode()}:{b64(server_key).decode()}")


async def _take_ownership(conn: Conn, schema: str, owner: str) -> None:
    """The schema and everything in it owned by `owner`: created so, or handed over from whoever
    migrated before issue 14 (the superuser, an `archive_owner`)."""
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{owner}"')
    owner_oid = await conn.fetchval("SELECT oid FROM pg_roles WHERE rolname = $1", owner)
    if await conn.fetchval("SELECT nspowner <> $2 FROM pg_namespace WHERE nspname = $1", schema, owner_oid):
        await conn.execute(f'ALTER SCHEMA "{schema}" OWNER TO "{owner}"')
    in_schema = " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1"
    for rel in await conn.fetch("SELECT c.relname, c.relkind::text" + in_schema +
                                " AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relowner <> $2", schema, owner_oid):
        kind = _RELATION_KIND[rel["relkind"]]
        await conn.execute(f'ALTER {kind} "{schema}"."{rel["relname"]}" OWNER TO "{owner}"')
    for seq in await conn.fetch("SELECT c.relname" + in_schema +  # those no column owns (the rest followed)
                                " AND c.relkind = 'S' AND c.relowner <> $2", schema, owner_oid):
        await conn.execute(f'ALTER SEQUENCE "{schema}"."{seq["relname"]}" OWNER TO "{owner}"')
    for fn in await conn.fetch(
            "SELECT p.oid::regprocedure::text AS signature FROM pg_proc p JOIN pg_namespace n"
            " ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proowner <> $2", schema, owner_oid):
        await conn.execute(f'ALTER ROUTINE {fn["signature"]} OWNER TO "{owner}"')


async def _grant(conn: Conn, spec: ServiceSchema, role: str) -> None:
    """`role` may use its schema's tables (DELETE only where the code deletes, less on the restricted
    ones), sequences and functions;
    nobody else gets anything. Revoked and granted again each time: the end state is the same."""
    s = f'"{spec.schema}"'
    statements = [
        f"REVOKE ALL ON SCHEMA {s} FROM PUBLIC",
        f'GRANT USAGE ON SCHEMA {s} TO "{role}"',
        f'REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC, "{role}"',
        f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {s} TO "{role}"',
        *(f'GRANT DELETE ON {s}."{table}" TO "{role}"' for table in spec.deletable),
        *(f'REVOKE ALL ON {s}."{table}" FROM "{role}"; GRANT {privileges} ON {s}."{table}" TO "{role}"'
          for table, privileges in spec.restricted.items()),
        f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM PUBLIC, "{role}"',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO "{role}"',
        f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {s} FROM PUBLIC",
        f'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO "{role}"',
    ]
    await conn.execute(";\n".join(statements))
