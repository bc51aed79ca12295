"""Intake's part of the letter to every parent: on LetterApproved, the schools' rosters become batches.

All in one transaction with the inbox claim: the batches and the LetterFannedOut summary go to the
outbox, so a crash or a redelivery neither loses a school nor sends one twice. Schools of the audience
without a roster are listed (has_roster false) so the bureau sees whom the letter did not reach.
"""

from __future__ import annotations

import logging

import asyncpg

from services.intake import repository_rosters as sql
from services.intake.letter_batches import batches_for, recipients_of
from shared.consumer import Delivery
from shared.contracts.base import derive_id
from shared.contracts.letters import LetterApproved, LetterFannedOut, LetterWrongNumberReported, SchoolShare
from shared.crypto import Sealer
from shared.directory import Directory
from shared.outbox import OutboxRelay, claim, enqueue

log = logging.getLogger("antibully.intake.letters")


class LetterFanOut:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, sealer: Sealer | None, routes_sealer: Sealer | None,
                 directory: Directory) -> None:
        self.pool = pool
        self.relay = relay
        self.sealer = sealer
        self.routes_sealer = routes_sealer
        self.directory = directory

    async def on_letter_approved(self, letter: LetterApproved, _: Delivery) -> None:
        if self.sealer is None or self.routes_sealer is None:
            # fails the same way every time: a dead letter someone is told about, replayed once configured
            raise RuntimeError("INTAKE_DATA_KEY or LETTER_CONTACT_KEY is not set: no letters")
        async with self.pool.acquire() as conn, conn.transaction():
            if not await claim(conn, str(letter.event_id), letter.subject):
                return
            listed = letter.audience.school_ids or await sql.schools(conn)
            schools = [s for s in listed if self.directory.jurisdiction_of(s) == letter.jurisdiction]
            with_roster = await sql.schools_with_roster(conn, schools)
            shares = []
            seen: set[str] = set()  # across the schools: a parent of pupils at two schools gets one letter
            for school in schools:
                if school not in with_roster:
                    shares.append(SchoolShare(school_id=school, recipients=0, no_contact=0, batches=0,
                                              has_roster=False))
                    continue
                rows = await sql.audience_rows(conn, school, letter.audience.grades)
                share = recipients_of(rows, school, self.sealer, letter.letter_id, self.routes_sealer, seen)
                batches = batches_for(letter, school, share.recipients)
                await enqueue(conn, *batches)
                shares.append(SchoolShare(school_id=school, recipients=len(share.recipients),
                                          no_contact=share.no_contact, merged=share.merged, batches=len(batches)))
            await enqueue(conn, LetterFannedOut(event_id=derive_id("letter-fanned-out", letter.letter_id),
                                                letter_id=letter.letter_id, schools=shares))
        log.info("letter %s: %d schools, %d batches", letter.letter_id, len(shares), sum(s.batches for s in shares))
        self.relay.kick()

    async def on_wrong_number(self, report: LetterWrongNumberReported, _: Delivery) -> None:
        """Flag the row for its school (GET /v1/rosters lists it until a PATCH corrects it)."""
        async with self.pool.acquire() as conn, conn.transaction():
            if await claim(conn, str(report.event_id), report.subject):
                await sql.flag_wrong(conn, report.school_id, report.recipient_key)
