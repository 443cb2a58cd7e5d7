"""Danish date formatting and parsing of the form's local times (Europe/Copenhagen)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

CPH = ZoneInfo("Europe/Copenhagen")


def format_local(dt: datetime | None, with_seconds: bool = False) -> str:
    """``26.11.2026 kl. 14.05`` in Danish time."""
    if dt is None:
        return ""
    local = dt.astimezone(CPH)
    return local.strftime("%d.%m.%Y kl. %H.%M.%S" if with_seconds else "%d.%m.%Y kl. %H.%M")


def parse_local(value: str) -> datetime | None:
    """Parse an ``<input type=datetime-local>`` value as Danish time; None if empty; ValueError if bad."""
    value = (value or "").strip()
    if not value:
        return None
    naive = datetime.fromisoformat(value)
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=CPH)  # fold=0: the first of an ambiguous autumn hour
