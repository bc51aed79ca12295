"""Public disclosure of a grave case's handling: the bureau drafts it from the record, edits it, two
different bureau officials approve the exact version (each re-running the rule), the second approval
publishes it; a withdrawal takes it off the public page. Every step is enqueued as `DisclosureChanged` in
the same transaction (the incident's chain records it); the working text is sealed under the case's key.

Who approves: any two different bureau officials of the jurisdiction — the drafter may be one of them (two
people have read the exact text either way); an edit resets the approvals, so the last editor's text is
always read by two.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.archive import repository
from services.archive.audit import Access
from services.archive.disclosure_draft import DISCLOSABLE_LEVELS, LEVEL_ZH, draft_text, title_of
from services.archive.disclosure_record import draft_facts, sensitive_terms
from services.archive.disclosure_rule import CATEGORY_ZH, FIX_ZH, Finding, check
from services.archive.payloads import open_payload, seal_payload
from services.archive.personal import personal_section
from services.archive.reads import case_facts, log_access, opened_personal
from services.archive.repository import disclosures as sql
from services.archive.scopes import PersonalView, in_scope, scope_for
from shared.bus_seal import producer
from shared.contracts.base import derive_id
from shared.contracts.disclosure import DisclosureChanged, DisclosureState
from shared.contracts.escalation import Level
from shared.db import Conn
from shared.directory import Directory
from shared.errors import ApiError, FieldError
from shared.identity import Official, OfficialRole
from shared.outbox import enqueue

NOT_FOUND = ApiError(404, "not_found", "No record for this case.", "未找到该案件的记录。")
NO_DISCLOSURE = ApiError(404, "not_found", "No such disclosure within your authority.", "未找到该公开通报。")
BUREAU_ONLY = ApiError(403, "forbidden", "Only a bureau official may draft, approve or withdraw a disclosure.",
                       "只有教育局工作人员可以起草、审核或撤回公开通报。")


def _conflict(code: str, message: str, message_zh: str) -> ApiError:
    return ApiError(409, code, message, message_zh)


def refused(findings: list[Finding]) -> ApiError:
    """422 with every finding: where in the text (`text[start:end]`, characters) and what; never the text."""
    return ApiError(422, "disclosure_refused", "The text holds what a public notice may not say.",
                    "通报文本含有不得公开的内容，请修改后再提交。", errors=[
                        FieldError(field=f"text[{f.start}:{f.end}]",
                                   reason=f"{f.category}: characters {f.start + 1}–{f.end}, "
                                          f"{f.reason.split(': ', 1)[1]}",
                                   reason_zh=f"第 {f.start + 1}–{f.end} 字：{CATEGORY_ZH[f.category]}"
                                             f"{'（' + f.detail + '）' if f.detail else ''}，"
                                             f"{FIX_ZH.get(f.category, FIX_ZH[''])}。")
                        for f in findings])


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _text_id(disclosure_id: uuid.UUID, version: int) -> uuid.UUID:
    return derive_id("disclosure-text", disclosure_id, version)


async def _scoped_case(conn: Conn, official: Official, case_id: uuid.UUID) -> dict[str, Any]:
    if official.role is not OfficialRole.bureau:
        raise BUREAU_ONLY
    case = await repository.case(conn, case_id)
    if case is None or not in_scope(scope_for(official), case_facts(case)):
        raise NOT_FOUND
    return case


async def _rule_inputs(conn: Conn, case: dict[str, Any], directory: Directory) -> tuple[Any, list[Any]]:
    opened = await opened_personal(conn, case["incident_id"])
    personal = personal_section(PersonalView.all, opened)
    assert personal is not None
    return sensitive_terms(personal, opened, directory, case["school_id"]), opened


async def findings_for(conn: Conn, case: dict[str, Any], directory: Directory, text: str) -> list[Finding]:
    """The rule on the text (the title is generated from the level and the jurisdiction, never edited)."""
    sensitive, _ = await _rule_inputs(conn, case, directory)
    return check(text, sensitive)


def _event(row: dict[str, Any], state: DisclosureState, by: str, text: str, now: datetime, *,
           reason: str | None = None) -> DisclosureChanged:
    approvals = list(row["approvals"])
    return DisclosureChanged(
        event_id=derive_id("disclosure-changed", row["disclosure_id"], row["version"], state.value, by,
                           len(approvals)),
        occurred_at=now, incident_id=row["case_id"], disclosure_id=row["disclosure_id"], state=state,
        version=row["version"], by=by, jurisdiction=row["jurisdiction"], level=Level(row["level"]),
        month=row["month"], title=row["title"], text_sha256=_sha(text), approvals=approvals,
        published_at=row.get("published_at") if state is DisclosureState.published else None,
        public_text=text if state is DisclosureState.published else None, text=text, reason=reason)


async def _enqueue(conn: Conn, event: DisclosureChanged) -> None:
    await enqueue(conn, producer().sections(event.model_copy(update={"schema_version": 2})))


async def draft(pool: asyncpg.Pool, official: Official, case_id: uuid.UUID, directory: Directory,
                now: datetime) -> uuid.UUID:
    """403 (not the bureau), 404 (unknown or outside scope), 409 (not an incident, not severe or criminal,
    not closed, already has a live disclosure); otherwise the new draft's id."""
    async with pool.acquire() as conn, conn.transaction():
        case = await _scoped_case(conn, official, case_id)
        if case.get("kind") != "incident":
            raise _conflict("act_not_applicable", "Only an incident is disclosed.", "只有欺凌事件可以公开通报。")
        if case.get("level") not in DISCLOSABLE_LEVELS:
            raise _conflict("level_not_disclosable", f"The level in force is {case.get('level')}: only a severe or "
                            "criminal incident is disclosed.", "只有认定为情节严重或涉嫌违法犯罪的事件可以公开通报。")
        if case.get("status") != "closed":
            raise _conflict("case_not_closed", "The case is not closed: disclose it once it is.",
                            "该案件尚未结案，结案后方可公开通报。")
        if (live := await sql.live_of_case(conn, case_id)) is not None:
            raise _conflict("disclosure_exists", f"The case already has a disclosure ({live}); edit or withdraw it.",
                            "该案件已有公开通报，请修改或撤回后再起草。")
        _, opened = await _rule_inputs(conn, case, directory)
        facts = draft_facts(case["level"], opened, case["reported_at"], directory, case["school_id"],
                            await sql.acts_of_case(conn, case_id), await repository.case_duties(conn, case_id),
                            await sql.school_rectification(conn, case["school_id"]))
        text = draft_text(facts)
        disclosure_id = uuid.uuid4()
        row = {"disclosure_id": disclosure_id, "case_id": case_id, "jurisdiction": case["jurisdiction"],
               "school_id": case["school_id"], "level": case["level"], "month": f"{facts.year}-{facts.month:02d}",
               "title": title_of(facts.place, case["level"]), "version": 1,
               "text_ct": await seal_payload(conn, case_id, _text_id(disclosure_id, 1), text.encode()),
               "text_sha256": _sha(text), "state": "drafted", "drafted_by": official.account_id,
               "drafted_at": now, "edited_by": official.account_id, "edited_at": now}
        if not await sql.add_disclosure(conn, row):
            raise _conflict("disclosure_exists", "The case already has a disclosure; edit or withdraw it.",
                            "该案件已有公开通报，请修改或撤回后再起草。")
        await _enqueue(conn, _event({**row, "approvals": []}, DisclosureState.drafted, official.account_id, text,
                                    now))
    return disclosure_id


async def _locked(conn: Conn, official: Official, disclosure_id: uuid.UUID) -> dict[str, Any]:
    if official.role is not OfficialRole.bureau:
        raise BUREAU_ONLY
    row = await sql.lock(conn, disclosure_id)
    if row is None or row["jurisdiction"] != official.jurisdiction:
        raise NO_DISCLOSURE
    return row


async def _text(conn: Conn, row: dict[str, Any]) -> str:
    plain = await open_payload(conn, row["case_id"], _text_id(row["disclosure_id"], row["version"]),
                               bytes(row["text_ct"]))
    if plain is None:
        raise _conflict("text_destroyed", "The case's personal data was destroyed, the draft with it.",
                        "该案件的个人信息已按规定销毁，通报草稿随之销毁。")
    return plain.decode()


def _not_final(row: dict[str, Any]) -> None:
    if row["state"] in ("published", "withdrawn"):
        raise _conflict(f"already_{row['state']}", f"The disclosure is {row['state']}.",
                        "该通报已公开，不能再修改；如需更正请撤回后重新起草。" if row["state"] == "published"
                        else "该通报已撤回。")


async def edit(pool: asyncpg.Pool, official: Official, disclosure_id: uuid.UUID, version: int, text: str,
               directory: Directory, now: datetime) -> dict[str, Any]:
    """A new version of the text (approvals start again); refused (422) while the rule finds anything."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, official, disclosure_id)
        _not_final(row)
        if version != row["version"]:
            raise _conflict("stale_version", f"The text is at version {row['version']}; reload it and edit that.",
                            "通报已被他人修改，请刷新后在最新版本上修改。")
        case = await repository.case(conn, row["case_id"])
        assert case is not None
        if findings := await findings_for(conn, case, directory, text):
            raise refused(findings)
        if text == await _text(conn, row):
            return await _view(conn, row, text, directory, case)
        new = row["version"] + 1
        values = {"version": new, "text_ct": await seal_payload(conn, row["case_id"], _text_id(disclosure_id, new),
                                                                text.encode()),
                  "text_sha256": _sha(text), "state": "drafted", "approvals": [], "edited_by": official.account_id,
                  "edited_at": now}
        await sql.update(conn, disclosure_id, **values)
        row |= values
        await _enqueue(conn, _event(row, DisclosureState.drafted, official.account_id, text, now))
        return await _view(conn, row, text, directory, case)


async def approve(pool: asyncpg.Pool, official: Official, disclosure_id: uuid.UUID, version: int,
                  directory: Directory, now: datetime) -> dict[str, Any]:
    """One approval per official of this exact version (the rule re-run on it); the second publishes it."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, official, disclosure_id)
        _not_final(row)
        if version != row["version"]:
            raise _conflict("stale_version", f"The text is at version {row['version']}: read it before approving.",
                            "通报已被修改，请阅读最新版本后再审核。")
        if official.account_id in row["approvals"]:
            raise _conflict("already_approved", "You approved this version: a second, different official must.",
                            "您已审核过该版本，须由另一名教育局工作人员审核。")
        case = await repository.case(conn, row["case_id"])
        assert case is not None
        text = await _text(conn, row)
        if findings := await findings_for(conn, case, directory, text):
            raise refused(findings)
        approvals = [*row["approvals"], official.account_id]
        values: dict[str, Any] = {"approvals": approvals, "state": "approved"}
        if len(approvals) >= 2:
            values |= {"state": "published", "public_text": text, "published_at": now}
        await sql.update(conn, disclosure_id, **values)
        row |= values
        await _enqueue(conn, _event(row, DisclosureState(values["state"]), official.account_id, text, now))
        return await _view(conn, row, text, directory, case)


async def withdraw(pool: asyncpg.Pool, official: Official, disclosure_id: uuid.UUID, reason: str,
                   directory: Directory, now: datetime) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, official, disclosure_id)
        if row["state"] == "withdrawn":
            raise _conflict("already_withdrawn", "The disclosure is already withdrawn.", "该通报已撤回。")
        values = {"state": "withdrawn", "withdrawn_by": official.account_id, "withdrawn_at": now}
        await sql.update(conn, disclosure_id, **values)
        row |= values
        text = await _text(conn, row)
        await _enqueue(conn, _event(row, DisclosureState.withdrawn, official.account_id, text, now, reason=reason))
        case = await repository.case(conn, row["case_id"])
        assert case is not None
        return await _view(conn, row, text, directory, case)


async def _view(conn: Conn, row: dict[str, Any], text: str, directory: Directory,
                case: dict[str, Any]) -> dict[str, Any]:
    findings = await findings_for(conn, case, directory, text) \
        if row["state"] not in ("published", "withdrawn") else []
    return {"disclosure_id": row["disclosure_id"], "case_id": row["case_id"], "case_ref": case.get("case_ref"),
            "school_id": row["school_id"], "level": row["level"], "level_zh": LEVEL_ZH[row["level"]],
            "month": row["month"], "title": row["title"], "version": row["version"], "state": row["state"],
            "approvals": list(row["approvals"]), "drafted_by": row["drafted_by"], "drafted_at": row["drafted_at"],
            "edited_by": row["edited_by"], "edited_at": row["edited_at"], "published_at": row.get("published_at"),
            "withdrawn_at": row.get("withdrawn_at"), "text": text,
            "findings": [{"category": f.category, "category_zh": CATEGORY_ZH[f.category], "start": f.start,
                          "end": f.end, "match": f.match, "reason_zh": f.reason_zh} for f in findings]}


async def read(pool: asyncpg.Pool, official: Official, disclosure_id: uuid.UUID, directory: Directory,
               purpose: str, now: datetime) -> dict[str, Any]:
    """A disclosure with its text and the rule's findings now (bureau, its jurisdiction); the read is logged."""
    if official.role is not OfficialRole.bureau:
        raise BUREAU_ONLY
    async with pool.acquire() as conn:
        row = await sql.disclosure(conn, disclosure_id)
    visible = row is not None and row["jurisdiction"] == official.jurisdiction
    await log_access(pool, Access(official, "disclosure", purpose, case_id=row["case_id"] if visible and row
                                  else None, filter={"disclosure_id": str(disclosure_id)},
                                  outcome="ok" if visible else "not_found"), now)
    if row is None or not visible:
        raise NO_DISCLOSURE
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        case = await repository.case(conn, row["case_id"])
        assert case is not None
        return await _view(conn, row, await _text(conn, row), directory, case)


async def listing(pool: asyncpg.Pool, official: Official) -> list[dict[str, Any]]:
    """The jurisdiction's disclosures, newest draft first (no text: ids, states, dates)."""
    if official.role is not OfficialRole.bureau:
        raise BUREAU_ONLY
    async with pool.acquire() as conn:
        rows = await sql.of_jurisdiction(conn, official.jurisdiction)
    return [{**r, "approvals": list(r["approvals"]), "level_zh": LEVEL_ZH[r["level"]]} for r in rows]


async def public_list(pool: asyncpg.Pool, limit: int) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return [_public(r) for r in await sql.published(conn, limit)]


async def public_one(pool: asyncpg.Pool, disclosure_id: uuid.UUID) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await sql.published_one(conn, disclosure_id)
    if row is None:
        raise ApiError(404, "not_found", "No such published notice.", "未找到该通报。")
    return _public(row)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "level_zh": LEVEL_ZH[row["level"]]}
