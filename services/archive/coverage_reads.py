"""Reads of screening coverage (issue 16): the directory's schools within the reader's authority, with the
latest screening records of a phase; scoped like the ledger, logged with their purpose before the answer."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.archive.audit import Access
from services.archive.coverage import Coverage, build_coverage, screening_phases
from services.archive.ledger_reads import known_schools
from services.archive.reads import log_access
from services.archive.repository import screening as sql
from shared.campaign_plan import Campaign
from shared.directory import Directory
from shared.identity import Official


async def coverage(pool: asyncpg.Pool, official: Official, campaign: Campaign, phase_id: str, directory: Directory,
                   action: str, fmt: str, purpose: str, now: datetime) -> Coverage:
    """`action`: "coverage" for JSON, "export" for the CSV (`fmt`). The phase is checked by the caller."""
    await log_access(pool, Access(official, action, purpose, filter={
        "campaign": campaign.id, "phase": phase_id, "format": fmt}), now)
    schools = known_schools(directory, official, None)
    returns, screenings = await sql.coverage_rows(pool, campaign.id, [phase_id], sorted(schools))
    return build_coverage(campaign, phase_id, schools, returns, screenings, now)


async def ledger_coverages(pool: asyncpg.Pool, official: Official, campaigns: dict[str, Campaign],
                           directory: Directory, school: str | None, now: datetime) -> list[Coverage]:
    """For the ledger workbook (its read is logged by the ledger): every screening phase of every campaign."""
    schools = known_schools(directory, official, school)
    out = []
    for campaign in campaigns.values():
        phases = screening_phases(campaign)
        if not phases:
            continue
        returns, screenings = await sql.coverage_rows(pool, campaign.id, phases, sorted(schools))
        out += [build_coverage(campaign, p, schools, returns, screenings, now) for p in phases]
    return out
