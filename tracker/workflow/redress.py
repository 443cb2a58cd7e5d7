"""What follows a platform's decision (DSA art. 20-22) and which rung fits which kind of case.

Data in ``tracker/workflow/rules/redress.toml``: the certified out-of-court dispute settlement bodies per
platform (art. 21), the trusted flaggers the municipality works with (art. 22; none by default) and the
ladder's advice by category (Datatilsynet only where personal data is misused; defamation → private
prosecution or the police). ``load_redress()`` checks the file; a problem is a ``RedressError`` naming the
file, the entry and the field (a ``RulesError``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from tracker.datafile import read_toml
from tracker.workflow.deadlines import Slug, Text, Verification
from tracker.workflow.rules import RulesError

REDRESS_FILE = Path(__file__).resolve().parent / "rules" / "redress.toml"
PlatformId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$", max_length=64)]
Fact = Literal["author_known", "private_information_disclosed", "defamatory"]
#: advice may name a ladder rung or one of these routes outside the ladder
OTHER_ROUTES = ("police", "private_prosecution")


RedressError = RulesError  #: one line naming the file, the entry and the field, as for the rule files


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Body(_Entry):
    """A certified out-of-court dispute settlement body (DSA art. 21)."""

    id: PlatformId
    name: Text
    platforms: tuple[PlatformId, ...] = Field(min_length=1)
    scope_da: Text
    fee_da: Text
    time_limits_da: Text
    how_to_file_da: Text
    url: Text
    sources: tuple[Text, ...] = Field(min_length=1)
    verified: str | Literal[False] = False


class TrustedFlagger(_Entry):
    """A trusted flagger (DSA art. 22) the municipality works with."""

    id: PlatformId
    name: Text
    contact_da: Text
    scope_da: Text
    designated_by: Text
    sources: tuple[Text, ...] = Field(min_length=1)
    verified: str | Literal[False] = False


class Advice(_Entry):
    """When a route fits the case's category, or does not, and why."""

    id: Slug
    step: Slug
    category: Mapping[Fact, bool] = Field(min_length=1)  #: all must match the case's answers
    fits: bool
    text_da: Text
    legal_source: Text
    deadline: Slug | None = None
    verification: Verification

    def matches(self, facts: Mapping[str, bool | None]) -> bool:
        return all(facts.get(name) is value for name, value in self.category.items())


@dataclass(frozen=True)
class Redress:
    bodies: tuple[Body, ...]
    trusted_flaggers: tuple[TrustedFlagger, ...]
    advice: tuple[Advice, ...]

    def bodies_for(self, platform_id: str | None) -> list[Body]:
        """The certified bodies that take disputes about this platform (none for an unknown one)."""
        return [b for b in self.bodies if platform_id in b.platforms]

    def advice_for(self, facts: Mapping[str, bool | None]) -> list[Advice]:
        """The advice whose category matches the case's answers, in the file's order."""
        return [a for a in self.advice if a.matches(facts)]


TABLES = ("body", "trusted_flagger", "advice")


def _read(file: Path) -> dict:
    data = read_toml(file, RedressError)
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        raise RedressError(file, None, None, f"unknown top-level key {unknown[0]!r} (expected {', '.join(TABLES)})")
    return data


def _load(file: Path, data: dict, table: str, model: type[BaseModel]) -> tuple:
    out = []
    raw_entries = data.get(table, [])
    if not isinstance(raw_entries, list):
        raise RedressError(file, None, table, f"write the entries as [[{table}]]")
    for number, raw in enumerate(raw_entries, start=1):
        name = f"{table} {raw.get('id')!r}" if isinstance(raw, dict) and raw.get("id") else f"{table} #{number}"
        try:
            out.append(model.model_validate(raw))
        except ValidationError as e:
            first = e.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"]) or None
            raise RedressError(file, name, field, first["msg"]) from None
    ids = [entry.id for entry in out]
    if len(set(ids)) != len(ids):
        raise RedressError(file, None, "id", f"an id is used twice in [[{table}]]")
    return tuple(out)


def load_redress(path: Path | str | None = None, *, ladder: tuple[str, ...] = (),
                 platforms: tuple[str, ...] = ()) -> Redress:
    """Read and check the file; ``ladder`` / ``platforms`` (if given) are the ids advice and bodies may name."""
    file = Path(path) if path is not None else REDRESS_FILE
    data = _read(file)
    redress = Redress(_load(file, data, "body", Body), _load(file, data, "trusted_flagger", TrustedFlagger),
                      _load(file, data, "advice", Advice))
    for a in redress.advice:
        if ladder and a.step not in (*ladder, *OTHER_ROUTES):
            raise RedressError(file, f"advice {a.id!r}", "step", f"unknown rung or route {a.step!r}")
    for b in redress.bodies:
        unknown = [p for p in b.platforms if platforms and p not in platforms]
        if unknown:
            raise RedressError(file, f"body {b.id!r}", "platforms", f"unknown platform {unknown[0]!r}")
    return redress


@lru_cache(maxsize=1)
def shipped() -> Redress:
    """The shipped file, read once."""
    return load_redress()


def case_category(case) -> dict[str, bool | None]:
    """The case's answers that advice depends on."""
    return {"author_known": case.author_known, "private_information_disclosed": case.private_information_disclosed,
            "defamatory": case.defamatory}
