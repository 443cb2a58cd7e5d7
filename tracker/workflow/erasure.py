"""The exceptions to the right to erasure (GDPR art. 17(3)) as data, with their legal sources (issue 16.4).

The data is ``tracker/workflow/rules/erasure.toml``; a municipality's copy in ``<data_dir>/rules/erasure.toml``
replaces it (edited on the admin's rule-file pages, checked at start and at each save). An invalid file raises
``ErasureRulesError`` with one line naming the file, the exception and the field. The plan and the erasure
itself are ``tracker.privacy.subject_erasure``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, StringConstraints

from tracker.datafile import DataFileError, local_copy, read_entries, validated
from tracker.workflow.retention import Source, Text

DEFAULT_PATH = Path(__file__).resolve().parent / "rules" / "erasure.toml"
FILE_NAME = DEFAULT_PATH.name
#: what each exception applies to; the file has exactly one exception for each
Kind = Literal["legal_hold", "open_case", "retention", "case_record", "audit_trail", "journal"]


class ErasureRulesError(DataFileError):
    """The erasure exceptions file is missing or invalid (one line: file, exception, field, problem)."""

    code_for_file = "erasure_rules_invalid"


class ErasureException(BaseModel):
    """One reason art. 17(3) lets the municipality keep something, with its sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    applies_to: Kind
    article: Text
    label_da: Text
    note_da: Text
    article_en: Text | None = None  #: the article as cited in English ("Art. 17(3)(e)"); None: the Danish
    label_en: Text | None = None  #: shown on the English page; None: the Danish label
    note_en: Text | None = None  #: shown on the English page; None: the Danish note
    sources: tuple[Source, ...]

    def label(self, lang: str) -> str:
        """The short label in ``lang`` ("da" or "en"), Danish when there is no English one."""
        return self.label_en if lang == "en" and self.label_en else self.label_da

    def cited(self, lang: str) -> str:
        """The article in ``lang``, Danish when there is no English citation."""
        return self.article_en if lang == "en" and self.article_en else self.article

    def note(self, lang: str) -> str:
        """The note in ``lang``, Danish when there is no English one."""
        return self.note_en if lang == "en" and self.note_en else self.note_da


def load_exceptions(path: Path | str | None = None) -> dict[str, ErasureException]:
    """The exceptions by ``applies_to`` (every kind exactly once; default: the shipped file); ErasureRulesError
    (one line) if invalid."""
    path = Path(path) if path is not None else DEFAULT_PATH
    found: dict[str, ErasureException] = {}
    ids: set[str] = set()
    for name, raw in read_entries(path, "exception", ErasureRulesError):
        exc = validated(ErasureException, raw, path, name, ErasureRulesError)
        if exc.id in ids:
            raise ErasureRulesError(path, name, "id", f"{exc.id!r} is listed twice")
        if not exc.sources:
            raise ErasureRulesError(path, name, "sources", "an exception needs at least one legal source")
        if exc.applies_to in found:
            raise ErasureRulesError(path, name, "applies_to", f"{exc.applies_to!r} is listed twice")
        found[exc.applies_to] = exc
        ids.add(exc.id)
    missing = [kind for kind in get_args(Kind) if kind not in found]
    if missing:
        raise ErasureRulesError(path, None, "applies_to", f"no exception for {missing[0]!r}")
    return found


def erasure_in_force(override_dir: Path | str | None) -> dict[str, ErasureException]:
    """The municipality's copy in ``override_dir`` when there is one, else the shipped file."""
    return load_exceptions(local_copy(override_dir, FILE_NAME))
