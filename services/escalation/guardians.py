"""Families as escalation sees them: a student's name and guardians, and who a notice to them goes to.

To keep a family informed after the report (the level raised, measures for their child, the case
closed), escalation keeps the family of each victim and perpetrator — sealed at rest with
ESCALATION_DATA_KEY, bound to its case and ref, and forgotten when the case closes. Bystanders'
families are never kept: no notice goes to them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from shared.contracts import Guardian, Recipient, RecipientRole, StudentRole
from shared.contracts.notification import Address, ChannelKind
from shared.contracts.sealed import Sealed
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


# A guardian as escalation holds one: a box sealed for notify (from a report), or in clear (from a follow-up
# until follow-ups are sealed too, or a family kept before sealing).
AnyGuardian = Guardian | Sealed


@dataclass(frozen=True)
class Family:
    ref: str
    role: StudentRole
    child_name: str | None  # None when escalation never held it (sealed in the guardians' boxes, no key, or old)
    guardians: tuple[AnyGuardian, ...]


def guardian_recipients(role: RecipientRole, ref: str, guardians: Sequence[AnyGuardian]
                        ) -> list[tuple[str, Recipient]]:
    """(stable key, recipient) per guardian; one recipient without an address when none is known, so
    notify reports the failure and the duty stays visibly undone (pure). A sealed guardian's box goes
    forward unread: notify opens it to address and greet the parent."""
    if not guardians:
        return [(f"{role}:{ref}:none", Recipient(role=role, display_name=UNKNOWN_GUARDIAN[role]))]
    out = []
    for i, g in enumerate(guardians):
        if isinstance(g, Sealed):
            out.append((f"{role}:{ref}:{i}", Recipient(role=role, display_name=UNKNOWN_GUARDIAN[role], sealed=g)))
            continue
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
        # (a sealed guardian is kept as its box: escalation can keep it, never read it)
        return self._sealer.seal(plain.encode(), self._aad(case_id, family.ref))

    def open(self, case_id: uuid.UUID, ref: str, role: StudentRole, blob: bytes) -> Family:
        data = json.loads(self._sealer.open(blob, self._aad(case_id, ref)))
        return Family(ref, role, data["name"], tuple(Sealed.model_validate(g) if "epk" in g
                                                     else Guardian.model_validate(g) for g in data["guardians"]))
