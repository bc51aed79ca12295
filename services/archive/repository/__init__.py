"""All SQL of archive, one module per concern; callers use `repository.NAME`, every name handed on here.

chain: the record's entries and chain heads. projection: cases and their recipients. keys: the case data keys.
checkpoints: the signed checkpoints. listing, ledger: the list of cases and the ledger (where: their WHERE clauses).
duties: the duties cases owe (DutyUpdated), their list and what is overdue now.
lookbacks: look-backs the bureau requests by hand or imports.
accounts: officials, sessions, failed logins. access_log: the access log. roles: the schema and the service's role.
campaigns: campaigns started, and their parts' duties.
acts: what officials' acts read of the record and change in the projection.
"""

from __future__ import annotations

from services.archive.repository.access_log import (
    ACCESS_COLUMNS,
    access_entries,
    append_access,
    lock_access_head,
    stream_access_log,
    whole_access_log,
)
from services.archive.repository.accounts import (
    add_official,
    add_session,
    clear_login_failures,
    disable_official,
    end_session,
    list_officials,
    lock_login,
    official_by_id,
    official_login,
    purge_sessions,
    reserve_login_attempt,
    session_official,
    set_password_hash,
    take_address_attempt,
    upsert_official,
)
from services.archive.repository.acts import case_acted, count_entries, latest_duty
from services.archive.repository.campaigns import (
    add_campaign,
    campaign_started_for,
    duties_of_cases,
    lock_campaign,
    started_campaign,
    started_campaigns,
)
from services.archive.repository.chain import append, entries, has_entry, lock_head, sealed_payloads, stream_entries
from services.archive.repository.checkpoints import (
    add_checkpoint,
    first_unmatched_head,
    last_checkpoint,
    lock_checkpoints,
    moved_heads,
    stream_checkpoints,
)
from services.archive.repository.duties import (
    case_duties,
    duty_note_entries,
    duty_of_case,
    list_duties,
    notice_of_case,
    overdue_now_counts,
    upsert_duty,
)
from services.archive.repository.keys import (
    add_case_key,
    case_key,
    kek_counts,
    key_state,
    keys_to_rewrap,
    rewrap_case_key,
    shred_expired,
)
from services.archive.repository.ledger import LEDGER_FIELDS, ledger_cases, ledger_counts, ledger_counts_from_cases
from services.archive.repository.listing import CASE_COLUMNS, list_cases
from services.archive.repository.lookbacks import add_lookback_request, lock_school, recent_lookback
from services.archive.repository.projection import (
    backfill_jurisdictions,
    case,
    case_answered,
    case_changed,
    case_converted,
    case_deadline_missed,
    case_decided,
    case_opened,
    case_rectified,
    recipient_status,
    recipients,
)
from services.archive.repository.roles import SCHEMA

__all__ = [
    "ACCESS_COLUMNS", "CASE_COLUMNS", "LEDGER_FIELDS", "SCHEMA", "access_entries", "add_case_key", "add_checkpoint",
    "add_session", "append", "append_access", "backfill_jurisdictions", "case", "case_answered", "case_changed",
    "case_converted", "case_deadline_missed", "case_decided", "case_duties", "case_key", "case_opened",
    "case_rectified", "clear_login_failures", "disable_official", "duty_note_entries",
    "duty_of_case", "entries",
    "first_unmatched_head", "has_entry", "key_state", "last_checkpoint", "ledger_cases",
    "ledger_counts", "ledger_counts_from_cases", "list_cases", "list_duties", "lock_access_head", "lock_checkpoints",
    "lock_head", "moved_heads", "notice_of_case", "official_login", "overdue_now_counts",
    "purge_sessions", "recipient_status", "recipients", "sealed_payloads", "session_official",
    "set_password_hash", "shred_expired", "stream_access_log", "stream_checkpoints", "stream_entries", "upsert_duty",
    "upsert_official", "whole_access_log",
]
__all__ += ["case_acted", "count_entries", "latest_duty"]
__all__ += ["add_lookback_request", "lock_school", "recent_lookback"]
__all__ += ["add_official", "end_session", "list_officials", "official_by_id"]
__all__ += ["kek_counts", "keys_to_rewrap", "rewrap_case_key"]
__all__ += ["lock_login", "reserve_login_attempt", "take_address_attempt"]
__all__ += ["add_campaign", "campaign_started_for", "duties_of_cases", "lock_campaign", "started_campaign",
            "started_campaigns"]
