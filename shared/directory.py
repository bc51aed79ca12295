"""The officials' and schools' directory file, validated on load."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from shared.contracts.escalation import RecipientRole
from shared.contracts.incident import Email, Phone
from shared.contracts.notification import Address, ChannelKind, Recipient


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

    def addresses(self) -> list[Address]:
        out = []
        for kind in self.prefer:
            value = getattr(self, "phone" if kind == ChannelKind.sms else kind.value)
            if value:
                out.append(Address(kind=kind, to=str(value)))
        return out

    def recipient(self, role: RecipientRole) -> Recipient:
        return Recipient(role=role, display_name=self.name, email=self.email, addresses=self.addresses())


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


class Directory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    jurisdiction: str = Field(default="default", description="The bureau's jurisdiction this directory serves.")
    officials: Officials
    schools: dict[str, School] = {}
    contacts: dict[str, Contact] = {}

    def contact(self, name: str, school_id: str) -> Contact | None:
        """An escalation target: an official role, "school" (that school's head) or a named contact."""
        if name == "school":
            return self.schools.get(school_id)
        if name == "counsellor":
            school = self.schools.get(school_id)
            return school.counsellor if school else None
        if name in Officials.model_fields:
            return getattr(self.officials, name)  # type: ignore[no-any-return]
        return self.contacts.get(name)

    def jurisdiction_of(self, school_id: str) -> str:
        school = self.schools.get(school_id)
        return (school.jurisdiction if school else None) or self.jurisdiction

    def every_contact(self) -> dict[str, Contact]:
        """Everyone notices may go to, by a non-personal label (role, school id, contact name)."""
        roles = ("bureau", "police", "stability_office", "procuratorate", "court")  # the last two optional
        out: dict[str, Contact] = {role: c for role in roles if (c := getattr(self.officials, role)) is not None}
        out |= {f"school:{sid}": c for sid, c in self.schools.items()}
        out |= {f"counsellor:{sid}": c.counsellor for sid, c in self.schools.items() if c.counsellor}
        out |= {f"contact:{name}": c for name, c in self.contacts.items()}
        return out

    def unknown_targets(self, names: set[str]) -> set[str]:
        return {n for n in names
                if n not in ("school", "counsellor") and n not in Officials.model_fields and n not in self.contacts}


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
