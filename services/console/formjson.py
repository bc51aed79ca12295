"""A flat HTML form, its inputs named by JSON path (`students.0.guardians.1.phone`), turned into the API's JSON.

Pure, so that the form sends exactly what the API validates: nothing is checked here. Empty inputs are left
out (the API then says which are missing), empty rows of a list are dropped, and as the remaining rows move
up, `Built.renames` maps the API's error paths back to the inputs the user filled in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "time", "date", "bool", "choice"]
BEIJING = "+08:00"  # what the user types is Beijing time


@dataclass(frozen=True)
class Built:
    body: dict[str, Any]
    renames: dict[str, str] = field(default_factory=dict)  # sent path prefix → form path prefix
    at: Mapping[str, str] = field(default_factory=dict)  # an error on a whole object → the input it is about

    def form_errors(self, errors: Mapping[str, str]) -> dict[str, str]:
        """The API's field errors, keyed by the names of the inputs they are about."""
        return {self.at.get(path, self.form_path(path)): reason for path, reason in errors.items()}

    def form_path(self, path: str) -> str:
        parts = path.split(".")
        for n in range(len(parts), 0, -1):
            prefix = ".".join(parts[:n])
            if prefix in self.renames:
                return ".".join([self.renames[prefix], *parts[n:]])
        return path


def value(raw: str, kind: Kind) -> Any:
    """One input's value as JSON; None when empty (left out). Booleans are checkboxes: absent is false."""
    text = raw.strip()
    if kind == "bool":
        return text in ("on", "true", "1")
    if not text:
        return None
    if kind == "time" and len(text) in (16, 19) and text[10:11] == "T":  # datetime-local: no zone
        return (text if len(text) == 19 else text + ":00") + BEIJING
    return text


def build(form: Mapping[str, str], fields: Mapping[str, Kind], fixed: Mapping[str, Any] | None = None,
          at: Mapping[str, str] | None = None) -> Built:
    """The JSON body from the inputs named in `fields` (others are ignored), with `fixed` values on top."""
    tree: dict[str, Any] = {}
    for path, kind in fields.items():
        got = value(form.get(path, ""), kind)
        if got is None:
            continue
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = got
    lists: set[str] = set()
    for path in fields:  # the objects and lists the form has, even where all their inputs are empty
        parts = path.split(".")
        node = tree
        for i, part in enumerate(parts[:-1]):
            if part.isdigit():
                break
            if parts[i + 1].isdigit():
                lists.add(".".join(parts[: i + 1]))
            node = node.setdefault(part, {})
    renames: dict[str, str] = {}
    body = _lists(tree, "", "", renames, lists)
    assert isinstance(body, dict)
    body.update(fixed or {})
    return Built(body, renames, at or {})


def _lists(node: Any, sent: str, shown: str, renames: dict[str, str], lists: set[str]) -> Any:
    """Dicts keyed by row numbers become lists of their non-empty rows, in order."""
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        rows: list[Any] = []
        for k in sorted(node, key=int):
            if not _filled(node[k]):
                continue
            at_sent, at_shown = f"{sent}{len(rows)}", f"{shown}{k}"
            if at_sent != at_shown:
                renames[at_sent] = at_shown
            rows.append(_lists(node[k], at_sent + ".", at_shown + ".", renames, lists))
        return rows
    if not node and shown.rstrip(".") in lists:
        return []  # a list whose rows are all empty
    return {k: _lists(v, f"{sent}{k}.", f"{shown}{k}.", renames, lists) for k, v in node.items()}


def _filled(node: Any) -> bool:
    if isinstance(node, dict):
        return any(_filled(v) for v in node.values())
    return node is not None and node is not False
