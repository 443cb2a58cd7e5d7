"""The texts of the record of processing (GDPR art. 30) as data, with their legal sources (issue 16.5).

The data is ``tracker/workflow/rules/processing_record.toml``: what code cannot know (purposes, categories,
recipients' texts, the roles) and the municipality's confirmations of statements Værn cannot establish
(``[[confirmed]]``, one per key of ``CONFIRMABLE``). A municipality's copy in ``<data_dir>/rules/`` replaces it
(edited on the admin's rule-file pages, checked at start and at each save). An invalid file raises
``ProcessingRecordError`` with one line naming the file, the entry and the field. The record itself is
``tracker.privacy.processing_record``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from storage.models import Role
from tracker.datafile import DataFileError, local_copy, read_toml, validated

DEFAULT_PATH = Path(__file__).resolve().parent / "rules" / "processing_record.toml"
FILE_NAME = DEFAULT_PATH.name
#: the statements Værn cannot establish that the municipality may confirm in ``[[confirmed]]`` (key: the statement)
CONFIRMABLE = {
    "joint_controllers": "a: Fælles dataansvarlige og repræsentant",
    "operation": "d: Drift af Værn (databehandler)",
    "object_store": "d: Objektlager for beviser (databehandleraftale)",
    "mail_server": "d: Mailserver",
    "identity_provider": "d: Identitetsudbyder (databehandleraftale)",
    "platform_transfers": "e: Anmeldelser til platforme",
    "object_store_region": "e: Objektlager for beviser (region)",
    "server_location": "e: Database og beviser (hvor serverne står)",
    "identity_provider_location": "e: Identitetsudbyder (hvor den behandler oplysningerne)",
    "login_two_factor": "g: Login (to-faktor-login hos identitetsudbyderen)",
    "tls": "g: Kryptering under transport (TLS)",
    "anchor_copies": "g: Forankring af revisionssporet (kopier af ankerfilen)",
    "timestamps": "g: Betroede tidsstempler",
    "server_access": "g: Beviser på lokal disk (adgangen til serveren)",
    "backups": "g: Sikkerhedskopier",
    "storage_encryption": "g: Kryptering af lagrede data",
    "organisational": "g: Organisatoriske foranstaltninger",
}
#: the top-level tables of the file and whether each is a list of entries
TABLES = {"record": False, "section": True, "purpose": True, "subject": True, "data": True, "recipient": True,
          "role": True, "confirmed": True}

Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=2)]


class ProcessingRecordError(DataFileError):
    """The record's texts file is missing or invalid (one line: file, entry, field, problem)."""

    code_for_file = "processing_record_invalid"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceIn(_Model):
    text: Text
    url: Text | None = None
    verified: bool
    checked: Text


class RecordIn(_Model):
    title: Text
    intro: Text
    sources: tuple[SourceIn, ...] = ()


class SectionIn(_Model):
    letter: Literal["a", "b", "c", "d", "e", "f", "g"]
    heading_da: Text
    legal_da: Text


class TextIn(_Model):
    title: Text
    text: Text
    confirm: bool = False
    possible: bool = False
    sources: tuple[SourceIn, ...] = ()


class RecipientIn(_Model):
    title: Text
    text: Text
    steps: tuple[Text, ...]
    lists: Literal["platforms", "bodies"] | None = None


class RoleIn(_Model):
    role: Role
    text: Text


class ConfirmedIn(_Model):
    """The municipality's confirmation of one statement Værn cannot establish."""

    statement: Literal[tuple(CONFIRMABLE)]  # type: ignore[valid-type]
    text: Text
    confirmed_by: Text  #: who in the municipality confirmed it, and when


class Texts(_Model):
    record: RecordIn
    section: tuple[SectionIn, ...]
    purpose: tuple[TextIn, ...]
    subject: tuple[TextIn, ...]
    data: tuple[TextIn, ...]
    recipient: tuple[RecipientIn, ...]
    role: tuple[RoleIn, ...]
    confirmed: tuple[ConfirmedIn, ...] = ()

    def confirmation(self, key: str) -> ConfirmedIn | None:
        return next((c for c in self.confirmed if c.statement == key), None)


MODELS = {"section": SectionIn, "purpose": TextIn, "subject": TextIn, "data": TextIn, "recipient": RecipientIn,
          "role": RoleIn, "confirmed": ConfirmedIn}


def _name(table: str, number: int, raw: Any) -> str:
    """An entry as an error names it: by its title (or letter, role, statement), else by its position."""
    if isinstance(raw, dict):
        for key in ("title", "letter", "role", "statement"):
            if isinstance(raw.get(key), str) and raw[key]:
                return f"{table} {raw[key]!r}"
    return f"{table} #{number}"


def _entries(path: Path, data: dict[str, Any], table: str) -> list:
    raw_entries = data.get(table, [])
    if not isinstance(raw_entries, list) or (not raw_entries and table != "confirmed"):
        raise ProcessingRecordError(path, None, None, f"no [[{table}]] entries")
    out = []
    for number, raw in enumerate(raw_entries, start=1):
        name = _name(table, number, raw)
        if not isinstance(raw, dict):
            raise ProcessingRecordError(path, name, None, f"not a table (write it as [[{table}]])")
        out.append(validated(MODELS[table], raw, path, name, ProcessingRecordError))
    return out


def load_texts(path: Path | str | None = None) -> Texts:
    """Read and check the file (default: the shipped one); ProcessingRecordError (one line) if invalid."""
    path = Path(path) if path is not None else DEFAULT_PATH
    data = read_toml(path, ProcessingRecordError)
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        raise ProcessingRecordError(path, None, None, f"unknown top-level key {unknown[0]!r} (expected "
                                    + ", ".join(TABLES) + ")")
    if not isinstance(data.get("record"), dict):
        raise ProcessingRecordError(path, "record", None, "missing (write it as [record])")
    record = validated(RecordIn, data["record"], path, "record", ProcessingRecordError)
    if not record.sources:
        raise ProcessingRecordError(path, "record", "sources", "the record needs its legal source (art. 30)")
    parts = {table: _entries(path, data, table) for table, listed in TABLES.items() if listed}
    letters = [s.letter for s in parts["section"]]
    if letters != list("abcdefg"):
        raise ProcessingRecordError(path, "section", "letter", "give each of a-g once, in order")
    if not any(p.sources for p in parts["purpose"]):
        raise ProcessingRecordError(path, "purpose", "sources", "no purpose names a legal source")
    missing = [r.value for r in Role if r not in {x.role for x in parts["role"]}]
    if missing:
        raise ProcessingRecordError(path, "role", "role", f"no text for the role {missing[0]!r}")
    seen: set[str] = set()
    for c in parts["confirmed"]:
        if c.statement in seen:
            raise ProcessingRecordError(path, f"confirmed {c.statement!r}", "statement", "confirmed twice")
        seen.add(c.statement)
    return Texts(record=record, **{table: tuple(entries) for table, entries in parts.items()})


def processing_texts_in_force(override_dir: Path | str | None) -> Texts:
    """The municipality's copy in ``override_dir`` when there is one, else the shipped file."""
    return load_texts(local_copy(override_dir, FILE_NAME))
