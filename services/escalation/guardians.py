"""Families as escalation sees them: a student's name and guardians, and who a notice to them goes to.

To keep a family informed after the report (the level raised, measures for their child, the case
closed), escalation keeps the family of each victim and perpetrator — sealed at rest with
ESCALATION_DATA_KEY, bound to its case and ref, and forgotten when the case closes. Bystanders'
families are never kept: no notice goes to them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from shared.contracts import Guardian, Recipient, RecipientRole, StudentRole
from shared.contracts.notification import Address, ChannelKind
from shared.crypto import Sealer

GUARDIAN_ROLE = {
    StudentRole.victim: RecipientRole.victim_guardian,
    StudentRole.perpetrator: RecipientRole.perpetrator_guardian,
}
STUDENT_ROLE = {v: k for k, v in GUARDIAN_ROLE.items()}
UNKNOWN_GUARDIAN = {
    RecipientRole.victim_guardian: "受害学生家长",
    RecipientRole.perpetrator_guardian: "涉事学生家长",
}


@dataclass(frozen=True)
class Family:
    ref: str
    role: StudentRole
    child_name: str | None  # None when escalation never held it (no key, or an incident from before)
    guardians: tuple[Guardian, ...]


def guardian_recipients(role: RecipientRole, ref: str, guardians: tuple[Guardian, ...] | list[Guardian]
                        ) -> list[tuple[str, Recipient]]:
    """(stable key, recipient) per guardian; one recipient without an address when none is known, so
    notify reports the failure and the duty stays visibly undone (pure)."""
    if not guardians:
        return [(f"{role}:{ref}:none", Recipient(role=role, display_name=UNKNOWN_GUARDIAN[role]))]
    out = []
    for i, g in enumerate(guardians):
        # families read SMS before e-mail
        addresses = [Address(kind=k, to=v) for k, v in ((ChannelKind.sms, g.phone), (ChannelKind.email, g.email)) if v]
        out.append((f"{role}:{ref}:{i}", Recipient(role=role, display_name=f"{g.name}（{g.relation}）", email=g.email,
                                                   addresses=addresses)))
    return out


class FamilyBook:
    """Seals a family for escalation's table and opens it again (AES-GCM, associated data: case and ref)."""

    def __init__(self, key_b64: str) -> None:
        self._sealer = Sealer(key_b64, "ESCALATION_DATA_KEY")

    @staticmethod
    def _aad(case_id: uuid.UUID, ref: str) -> bytes:
        return f"family:{case_id}:{ref}".encode()

    def seal(self, case_id: uuid.UUID, family: Family) -> bytes:
        plain = json.dumps({"name": family.child_name, "guardians": [g.model_dump(mode="json")
                                                                     for g in family.guardians]}, ensure_ascii=False)
        return self._sealer.seal(plain.encode(), self._aad(case_id, family.ref))

    def open(self, case_id: uuid.UUID, ref: str, role: StudentRole, blob: bytes) -> Family:
        data = json.loads(self._sealer.open(blob, self._aad(case_id, ref)))
        return Family(ref, role, data["name"], tuple(Guardian.model_validate(g) for g in data["guardians"]))
