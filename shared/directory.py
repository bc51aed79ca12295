"""The officials' and schools' directory file, validated on load."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from shared.contracts.escalation import RecipientRole
from shared.contracts.incident import Email, Phone
from shared.contracts.notification import Address, ChannelKind, Recipient

# Channels a person on duty sees within minutes; e-mail stays as the last resort.
IMMEDIATE = (ChannelKind.sms, ChannelKind.dingtalk, ChannelKind.wecom, ChannelKind.webhook)


class Contact(BaseModel):
    """An office or person and how to reach them, in their order of preference (`prefer`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    email: Email | None = None
    phone: Phone | None = None
    wecom: str | None = Field(default=None, description="The key of a WeCom group robot's webhook.")
    dingtalk: str | None = Field(default=None, description="The access token of a DingTalk robot.")
    webhook: HttpUrl | None = Field(default=None, description="An HTTPS endpoint of the office's own system.")
    prefer: list[ChannelKind] = Field(default_factory=lambda: list(ChannelKind),
                                      description="Channel kinds in order of preference; unlisted kinds are not used.")

    def addresses(self, immediate_first: bool = False) -> list[Address]:
        """In the contact's order of preference; `immediate_first`: the channels a person on duty sees within
        minutes first (in that order), e-mail last — for a notice that cannot wait for a mailbox."""
        out = []
        for kind in self.prefer:
            value = getattr(self, "phone" if kind == ChannelKind.sms else kind.value)
            if value:
                out.append(Address(kind=kind, to=str(value)))
        if immediate_first:
            return [a for a in out if a.kind in IMMEDIATE] + [a for a in out if a.kind not in IMMEDIATE]
        return out

    def recipient(self, role: RecipientRole, entry: str | None, immediate_first: bool = False) -> Recipient:
        """A notice's recipient naming this contact's directory entry, never its addresses or robot secrets:
        notify resolves those from its own copy of the directory (`Directory.resolve`)."""
        return Recipient(role=role, display_name=self.name, entry=entry, immediate_first=immediate_first)


class Officials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bureau: Contact
    police: Contact
    stability_office: Contact
    admin: Contact | None = Field(default=None, description="Told when a role has no working contact.")
    procuratorate: Contact | None = Field(default=None, description="Told when the police transfer a case.")
    court: Contact | None = Field(default=None, description="For criminal cases the court handles.")


class School(Contact):
    jurisdiction: str | None = Field(default=None, description="Defaults to the directory's jurisdiction.")
    counsellor: Contact | None = Field(default=None, description="The school's psychological counsellor.")
    students: int | None = Field(default=None, ge=0, le=100_000, description="Enrolment: how large a group a "
                                 "public notice's grade or gender leaves a child in (disclosure rule).")
    address: str | None = Field(default=None, max_length=200, description="Never in a public notice.")
    legal_vice_principal: Contact | None = Field(
        default=None, description="法治副校长: the police officer or lawyer assigned to the school.")
    safety_officer: Contact | None = Field(
        default=None, description="安全员/安全干部: the school's staff safety officers (a group channel reaches "
                                  "them all); never the pupils who act as class safety monitors.")


# A school's own contacts besides its head: an escalation target or a policy role names them by these.
SCHOOL_CONTACTS = ("counsellor", "legal_vice_principal", "safety_officer")


class Directory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    jurisdiction: str = Field(default="default", description="The bureau's jurisdiction this directory serves.")
    jurisdiction_name: str | None = Field(default=None, description="Its name as the public reads it (乐昌市); "
                                          "default: the bureau's name before 教育局.")
    officials: Officials
    schools: dict[str, School] = {}
    contacts: dict[str, Contact] = {}

    def contact(self, name: str, school_id: str) -> Contact | None:
        """An escalation target: an official role, "school" (that school's head) or a named contact."""
        if name == "school":
            return self.schools.get(school_id)
        if name in SCHOOL_CONTACTS:
            school = self.schools.get(school_id)
            return getattr(school, name) if school else None
        if name in Officials.model_fields:
            return getattr(self.officials, name)  # type: ignore[no-any-return]
        return self.contacts.get(name)

    def entry_of(self, name: str, school_id: str) -> str:
        """The directory entry `contact(name, school_id)` reads, as a label `resolve` reads back."""
        if name == "school" or name in SCHOOL_CONTACTS:
            return f"{name}:{school_id}"
        if name in Officials.model_fields:
            return name
        return f"contact:{name}"

    def recipient(self, name: str, school_id: str, role: RecipientRole, immediate_first: bool = False
                  ) -> Recipient | None:
        """The recipient for an escalation target, by its entry; None when the directory has no such contact."""
        contact = self.contact(name, school_id)
        return contact.recipient(role, self.entry_of(name, school_id), immediate_first) if contact else None

    def resolve(self, entry: str) -> Contact | None:
        """The contact an event's recipient names (notify's side of `entry_of`)."""
        kind, _, name = entry.partition(":")
        if not name:
            return self.contact(kind, "") if kind in Officials.model_fields else None
        if kind == "school" or kind in SCHOOL_CONTACTS:
            return self.contact(kind, name)
        return self.contacts.get(name) if kind == "contact" else None

    def public_name(self) -> str:
        """The jurisdiction as a public notice names it, instead of a school."""
        if self.jurisdiction_name:
            return self.jurisdiction_name
        bureau = self.officials.bureau.name
        return bureau.split("教育局")[0] if "教育局" in bureau else "本地"

    def jurisdiction_of(self, school_id: str) -> str:
        if school_id.startswith(WHOLE_JURISDICTION):  # a duty about no one school (whole_jurisdiction)
            return school_id.removeprefix(WHOLE_JURISDICTION)
        school = self.schools.get(school_id)
        return (school.jurisdiction if school else None) or self.jurisdiction

    def every_contact(self) -> dict[str, Contact]:
        """Everyone notices may go to, by a non-personal label (role, school id, contact name)."""
        roles = ("bureau", "police", "stability_office", "procuratorate", "court")  # the last two optional
        out: dict[str, Contact] = {role: c for role in roles if (c := getattr(self.officials, role)) is not None}
        out |= {f"school:{sid}": c for sid, c in self.schools.items()}
        for own in SCHOOL_CONTACTS:
            out |= {f"{own}:{sid}": c for sid, school in self.schools.items() if (c := getattr(school, own))}
        out |= {f"contact:{name}": c for name, c in self.contacts.items()}
        return out

    def unknown_targets(self, names: set[str]) -> set[str]:
        return {n for n in names
                if n != "school" and n not in SCHOOL_CONTACTS and n not in Officials.model_fields
                and n not in self.contacts}


WHOLE_JURISDICTION = "jurisdiction:"


def whole_jurisdiction(jurisdiction: str) -> str:
    """The `school_id` of what concerns a jurisdiction as a whole rather than one school (a campaign's
    once-per-campaign duty): no school's id has this form, so no school's list shows it."""
    return f"{WHOLE_JURISDICTION}{jurisdiction}"


class DirectoryError(ValueError):
    pass


def load_directory(path: Path) -> Directory:
    try:
        return Directory.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DirectoryError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise DirectoryError(f"{path}: {where}") from exc
