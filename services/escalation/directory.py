"""The officials' and schools' directory file, validated on load."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.contracts.incident import Email


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    email: Email | None = None


class Officials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bureau: Contact
    police: Contact
    stability_office: Contact


class Directory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    officials: Officials
    schools: dict[str, Contact] = {}


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
