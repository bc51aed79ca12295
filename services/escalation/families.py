"""The persons of a case inside escalation's transactions: students remembered, students added by a
follow-up, guardians corrected, families kept informed. The rules are pure (persons.py,
family_updates.py); this module reads and writes what they need, in the caller's transaction.

Without ESCALATION_DATA_KEY no family is kept: added students and corrected guardians still get
their notices (the follow-up carries the contacts), but no later update reaches any family.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from services.escalation import families_repository as store
from services.escalation import repository
from services.escalation.family_updates import News, family_update
from services.escalation.guardians import GUARDIAN_ROLE, STUDENT_ROLE, Family, FamilyBook
from services.escalation.obligations import CaseRef
from services.escalation.outbox import enqueue
from services.escalation.persons import plan_added_student, plan_resend
from services.escalation.policy import Policy
from services.escalation.pseudonyms import Pseudonyms
from services.escalation.repository import InForce
from shared.contracts import Level, NoticeFacts, RecipientRole, Student, StudentFacts, StudentRole
from shared.contracts.follow_up import CorrectedFacts, FollowUpReported
from shared.db import Conn

log = logging.getLogger("antibully.escalation")


class Families:
    def __init__(self, book: FamilyBook | None, pseudonyms: Pseudonyms | None) -> None:
        self.book = book
        self.pseudonyms = pseudonyms

    def _sealed(self, case: CaseRef, student: Student | StudentFacts) -> bytes | None:
        if self.book is None or student.role not in GUARDIAN_ROLE:
            return None  # a bystander's family is never told anything: not kept
        name = student.name if isinstance(student, Student) else None  # a report's: in the guardians' boxes
        return self.book.seal(case.incident_id, Family(student.ref, student.role, name, tuple(student.guardians)))

    async def remember(self, conn: Conn, case: CaseRef, students: Sequence[Student | StudentFacts]) -> None:
        await store.add_students(conn, case.incident_id, [(s.ref, s.role.value, self._sealed(case, s))
                                                          for s in students])

    async def follow_up(self, conn: Conn, event: FollowUpReported, current: InForce, policy: Policy
                        ) -> tuple[str, ...]:
        """Students added and guardians corrected; returns the earlier cases of newly found perpetrators."""
        f = event.facts
        if not (f.students_added or f.guardians_corrected) or current.facts is None:
            return ()
        case = CaseRef(event.incident_id, event.school_id, event.occurred_at)
        known = await store.student_refs(conn, case.incident_id)
        added = [s for s in f.students_added if s.ref not in known]
        if len(added) < len(f.students_added):
            log.warning("follow-up %s: %d added student(s) the incident already has, ignored", event.follow_up_id,
                        len(f.students_added) - len(added))
        for student in added:
            requests, obligations = plan_added_student(case, event.follow_up_id, student, current.level,
                                                       current.flags, current.facts, policy)
            await repository.save_obligations(conn, obligations)
            if requests:
                await enqueue(conn, *requests)
        await self.remember(conn, case, added)
        earlier = await self._repeats(conn, case, current.facts.case_ref, added)
        for corrected in f.guardians_corrected:
            await self._corrected(conn, case, event, corrected, current.facts, current.level, policy)
        return earlier

    async def _repeats(self, conn: Conn, case: CaseRef, case_ref: str, added: list[StudentFacts]
                       ) -> tuple[str, ...]:
        """Pseudonyms only, as for a report: the school's ref, and intake's key of the national number."""
        keyed = [(self.pseudonyms.of(case.school_id, s.ref), s.role.value) for s in added] if self.pseudonyms else []
        keyed += [(bytes.fromhex(s.person_key), s.role.value) for s in added if s.person_key]
        perpetrators = [p for p, role in keyed if role == StudentRole.perpetrator.value]
        earlier = await repository.earlier_cases(conn, perpetrators, case.incident_id,
                                                 ["perpetrator", "involved"]) if perpetrators else []
        await repository.remember_students(conn, case.incident_id, case_ref, case.school_id, case.accepted_at, keyed)
        return tuple(earlier)

    async def _corrected(self, conn: Conn, case: CaseRef, event: FollowUpReported, corrected: CorrectedFacts,
                         facts: NoticeFacts, level: Level, policy: Policy) -> None:
        ref = corrected.student_ref
        kept = await store.student(conn, case.incident_id, ref)
        failed = await store.failed_family_notices(conn, case.incident_id, ref)
        role: StudentRole | None = StudentRole(kept[0]) if kept else None
        if role is None and failed:  # an incident from before escalation kept its students
            role = STUDENT_ROLE.get(RecipientRole(failed[0].role))
        old = (self.book.open(case.incident_id, ref, role, kept[1])
               if self.book and kept and kept[1] and role is not None else None)
        child_name = old.child_name if old else None
        if failed:
            superseded, requests, obligations = plan_resend(case, event.follow_up_id, corrected, failed, child_name,
                                                            facts, level, policy)
            await store.supersede(conn, superseded, f"school:{case.school_id}")
            await repository.save_obligations(conn, obligations)
            await enqueue(conn, *requests)
        if role is not None and role in GUARDIAN_ROLE and self.book is not None:
            family = Family(ref, role, child_name, tuple(corrected.guardians))
            await store.keep_family(conn, case.incident_id, ref, role.value, self.book.seal(case.incident_id, family))

    async def tell(self, conn: Conn, case: CaseRef, facts: NoticeFacts | None, news: News, policy: Policy,
                   level: Level | None = None, only: set[str] | None = None) -> int:
        """Tell the families concerned (`only`: these students' families) of news in their case."""
        if self.book is None or facts is None:
            return 0
        book = self.book
        families = [book.open(case.incident_id, ref, StudentRole(role), ct)
                    for ref, role, ct in await store.families(conn, case.incident_id)]
        requests, obligations = family_update(case, facts, families, news, policy, level, only)
        if requests:
            await repository.save_obligations(conn, obligations)
            await enqueue(conn, *requests)
        return len(requests)

    async def measures(self, conn: Conn, event: FollowUpReported, facts: NoticeFacts | None, policy: Policy) -> None:
        """Counselling reported → the victim's family; a sanction reported → that perpetrator's family."""
        f = event.facts
        case = CaseRef(event.incident_id, event.school_id, event.occurred_at)
        counselled = [c.student_ref for c in f.counselling] + [t.student_ref for t in f.completed
                                                               if t.action == "counselling"]
        if counselled:  # a task done without a student: every victim's counselling
            await self.tell(conn, case, facts, News.counselling, policy,
                            only=None if None in counselled else {r for r in counselled if r})
        sanctioned = {s.student_ref for s in f.sanctions} | {t.student_ref for t in f.completed
                                                              if t.action == "disciplinary_sanction" and t.student_ref}
        if sanctioned:  # only a named student's family: never a family whose child was not sanctioned
            await self.tell(conn, case, facts, News.sanction, policy, only=sanctioned)

    async def closed(self, conn: Conn, case_id: uuid.UUID, facts: NoticeFacts | None, at: datetime,
                     policy: Policy) -> None:
        """Both families hear that the case is closed (after its open duties were settled, so these are
        not); then their contacts are forgotten."""
        if facts is not None:
            await self.tell(conn, CaseRef(case_id, facts.school_id, at), facts, News.closed, policy)
        await store.forget_families(conn, case_id)
