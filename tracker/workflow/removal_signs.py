"""Removal signs per platform: the texts and redirects a platform uses for a deleted post, kept as data.

The data is ``tracker/workflow/rules/removal_signs.toml`` (sources per field); a municipality's copy in
``<data_dir>/rules/removal_signs.toml`` replaces it. A re-check reads it to call a post ``removed``
on positive evidence only (tracker/workflow/recheck.py). An invalid file raises ``RemovalSignsError`` with
one line naming the file, the entry and the field.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from tracker.datafile import DataFileError, local_copy, read_entries, validated

DEFAULT_PATH = Path(__file__).resolve().parent / "rules" / "removal_signs.toml"
FILE_NAME = DEFAULT_PATH.name

Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=3)]
PathPrefix = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, pattern=r"^/")]


class RemovalSignsError(DataFileError):
    """The removal-signs file is missing or invalid (one line: file, entry, field, problem)."""

    code_for_file = "removal_signs_invalid"


class PlatformSigns(BaseModel):
    """One platform's removal texts and deletion redirects, with the sources that back them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    removal_texts: tuple[Text, ...] = ()
    deletion_redirects: tuple[PathPrefix, ...] = ()
    sources: dict[str, tuple[Text, ...]] = {}


def fold(text: str) -> str:
    """Text as compared: NFC, typographic apostrophes and ellipses plain, whitespace collapsed, casefolded."""
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'").replace("\u2026", "...")
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class RemovalSigns:
    """The validated file; ``for_platform`` answers an empty entry for a platform it does not list."""

    platforms: tuple[PlatformSigns, ...]
    path: Path

    def for_platform(self, platform_id: str | None) -> PlatformSigns:
        return next((p for p in self.platforms if p.id == platform_id), PlatformSigns(id=platform_id or "unknown"))

    def removal_text_on(self, platform_id: str | None, page_text: str | None) -> str | None:
        """The first removal text of the platform found in ``page_text``; None if none is there."""
        if not page_text:
            return None
        folded = fold(page_text)
        return next((t for t in self.for_platform(platform_id).removal_texts if fold(t) in folded), None)

    def deletion_redirect(self, platform_id: str | None, final_path: str | None) -> str | None:
        """The deletion-redirect prefix ``final_path`` starts with; None if none."""
        if not final_path:
            return None
        return next((p for p in self.for_platform(platform_id).deletion_redirects if final_path.startswith(p)), None)


def load_removal_signs(path: Path | str | None = None) -> RemovalSigns:
    """Read and check the file (default: the shipped one); raise RemovalSignsError (one line) if invalid."""
    path = Path(path) if path is not None else DEFAULT_PATH
    entries: list[PlatformSigns] = []
    for name, raw in read_entries(path, "platform", RemovalSignsError):
        entry = validated(PlatformSigns, raw, path, name, RemovalSignsError)
        if any(e.id == entry.id for e in entries):
            raise RemovalSignsError(path, name, "id", f"{entry.id!r} is listed twice")
        unsourced = [f for f in ("removal_texts", "deletion_redirects") if getattr(entry, f) and not entry.sources.get(f)]
        if unsourced:
            raise RemovalSignsError(path, name, "sources", f"{unsourced[0]} needs a source")
        entries.append(entry)
    return RemovalSigns(tuple(entries), path)


def signs_in_force(override_dir: Path | str | None) -> RemovalSigns:
    """The municipality's copy in ``override_dir`` when there is one, else the shipped file."""
    return load_removal_signs(local_copy(override_dir, FILE_NAME))
