"""Dates on the pages: formatting (``26.11.2026 kl. 14.05``; English ``26.11.2026 at 14:05``) and reading what
people type into the forms.

Forms use plain text fields in the Danish form (``26.11.2026 14.05``) rather than the browser's date
pickers, which show the browser's locale (mm/dd/yyyy in an English browser). The ISO forms the pickers
sent (``2026-11-26T14:05``, ``2026-11-26``) are still read, for scripts and old bookmarks.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from flask import has_request_context
from flask_babel import get_locale

from tracker.wording import CPH, local_time

#: what a date-and-time field accepts (the HTML ``pattern``): 26.11.2026 14.05, also 26.11.2026 kl. 14:05
DATETIME_PATTERN = r"\s*\d{1,2}\.\d{1,2}\.\d{4},?\s+(kl\.?\s*)?\d{1,2}[.:]\d{2}\s*"
#: what a date field accepts: 26.11.2026
DATE_PATTERN = r"\s*\d{1,2}\.\d{1,2}\.\d{4}\s*"
_DANISH = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:,?\s+(?:kl\.?\s*)?(\d{1,2})[.:](\d{2}))?")


def format_local(dt: datetime | None, with_seconds: bool = False) -> str:
    """``26.11.2026 kl. 14.05`` in Danish time, ``26.11.2026 at 14:05`` on an English page."""
    if dt is None:
        return ""
    return local_time(dt.astimezone(CPH), page_language(), with_seconds)


def page_language() -> str:
    """The page's language; Danish outside a request."""
    return str(get_locale() or "da") if has_request_context() else "da"


def format_input(dt: datetime | None) -> str:
    """A moment as a date-and-time field shows it: ``26.11.2026 14.05`` (Danish time)."""
    return dt.astimezone(CPH).strftime("%d.%m.%Y %H.%M") if dt is not None else ""


def format_date_input(value: date | str | None) -> str:
    """A date as a date field shows it: ``26.11.2026``; text that is not an ISO date is shown as typed."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            return value
    return value.strftime("%d.%m.%Y") if value is not None else ""


def parse_local(value: str) -> datetime | None:
    """A typed date and time as Danish time (``26.11.2026 14.05``, or ISO); None if empty; ValueError if it
    cannot be read or has no time of day."""
    value = (value or "").strip()
    if not value:
        return None
    m = _DANISH.fullmatch(value)
    if m:
        day, month, year, hour, minute = m.groups()
        if hour is None:
            raise ValueError("a time of day is needed")
        naive = datetime(int(year), int(month), int(day), int(hour), int(minute))
    else:
        naive = datetime.fromisoformat(value)
        if naive.tzinfo is not None:
            return naive
    return naive.replace(tzinfo=CPH)  # fold=0: the first of an ambiguous autumn hour


def parse_date(value: str) -> date | None:
    """A typed date (``26.11.2026``, or ISO ``2026-11-26``); None if empty; ValueError if it cannot be read."""
    value = (value or "").strip()
    if not value:
        return None
    m = _DANISH.fullmatch(value)
    if m:
        if m.group(4) is not None:
            raise ValueError("a date without a time of day is needed")
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    return date.fromisoformat(value)
