"""Reading Værn's editable TOML data files: one list of [[table]] entries, errors as one line."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Callable, TypeVar

from pydantic import BaseModel, ValidationError

#: builds the loader's own error from (file, entry name, field, problem)
from tracker.errors import DomainError


class DataFileError(DomainError):
    """A data file (rules, platforms, removal signs, retention) is missing or invalid; the message is one line:
    ``<file>: <entry>, field '<field>': <problem>``. Each file's loader raises its own subclass (its ``code``)."""

    code_for_file = "data_file_invalid"
    #: whitespace in the problem (e.g. a pydantic message over several lines) collapsed to single spaces
    one_line = True

    def __init__(self, file: Path | str, entry: str | None, field: str | None, problem: str):
        where = str(file) if entry is None else f"{file}: {entry}"
        if field:
            where += f", field {field!r}"
        message = f"{where}: {problem}"
        super().__init__(self.code_for_file, " ".join(message.split()) if self.one_line else message, field)
        self.file = Path(file)
        self.entry = entry


ErrorFactory = Callable[[Path, str | None, str | None, str], Exception]


def local_copy(override_dir: Path | str | None, file_name: str) -> Path | None:
    """The municipality's copy ``<override_dir>/<file_name>`` when there is one, else None (the loaders then read
    the shipped file)."""
    local = Path(override_dir) / file_name if override_dir is not None else None
    return local if local is not None and local.is_file() else None


def read_toml(file: Path, error: ErrorFactory) -> dict[str, Any]:
    """The whole file as a dict; ``error(...)`` for a file that cannot be read or is not TOML."""
    try:
        with file.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise error(file, None, None, f"cannot read the file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(file, None, None, f"not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # e.g. saved by hand as Windows-1252
        raise error(file, None, None, f"not UTF-8 text (byte {exc.start})") from None


def read_entries(file: Path, table: str, error: ErrorFactory) -> list[tuple[str, dict[str, Any]]]:
    """The file's ``[[table]]`` entries as (display name, raw table); raise ``error(...)`` for a bad file."""
    data = read_toml(file, error)
    unknown = sorted(set(data) - {table})
    if unknown:
        raise error(file, None, None, f"unknown top-level key {unknown[0]!r} (expected only [[{table}]] tables)")
    raw_entries = data.get(table)
    if not isinstance(raw_entries, list) or not raw_entries:
        raise error(file, None, None, f"no [[{table}]] entries")
    entries = []
    for number, raw in enumerate(raw_entries, start=1):
        if not isinstance(raw, dict):
            raise error(file, f"{table} #{number}", None, f"not a table (write it as [[{table}]])")
        raw_id = raw.get("id")
        entries.append((f"{table} {raw_id!r}" if isinstance(raw_id, str) and raw_id else f"{table} #{number}", raw))
    return entries


def write_entries(table: str, entries: list[dict[str, Any]], header: str) -> str:
    """The TOML text of ``[[table]]`` entries (tomli-w), after ``header`` written as ``#`` comment lines.

    The admin forms save through this, so the file stays TOML that ``read_entries`` and the loaders read.
    Keys whose value is None are left out (TOML has no null: an absent optional field).
    """
    import tomli_w

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + "\n" + tomli_w.dumps({table: [clean(e) for e in entries]}, multiline_strings=True)


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], raw: dict[str, Any], file: Path, entry: str, error: ErrorFactory) -> M:
    """``model.model_validate(raw)``; an invalid entry raises ``error(file, entry, field, problem)`` with the first
    problem pydantic found (the field as a dotted path without list positions)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"] if not isinstance(p, int)) or None
        raise error(file, entry, field, first["msg"]) from None
