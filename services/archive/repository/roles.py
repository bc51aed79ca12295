"""The archive's database schema, and what its role may do there beyond the other services' usual rights."""

from __future__ import annotations

SCHEMA = "archive"  # the database schema of the archive's tables (migrations/)

# Granted by `antibully migrate` (antibully/migrate.py) instead of SELECT, INSERT, UPDATE, DELETE:
# the chains, their checkpoints and the access log are append-only, and a case key may only be
# shredded (its triggers check how), never deleted. TRUNCATE, TRIGGER and DDL go to no service role.
# The only tables archive DELETEs from (expired and ended sessions, cleared login failures).
DELETABLE = ("sessions", "login_failures", "login_addresses")

RESTRICTED = {
    "entries": "SELECT, INSERT",
    "checkpoints": "SELECT, INSERT",
    "access_log": "SELECT, INSERT",
    "case_keys": "SELECT, INSERT, UPDATE",
}
