"""How a moment and a file size read on the pages and in the audit sentences, in Danish or English.

Danish: ``26.11.2026 kl. 14.05`` and ``1,2 MB``; English: ``26.11.2026 at 14:05`` and ``1.2 MB`` (the date
stays day.month.year in both, so an English page and a Danish report give the same date). Sizes use decimal
units (1 kB = 1000 bytes), as the manifest's byte counts are plain numbers; the Danish PDF reports use the same
sizes with the exact count beside them, and keep their own date forms (tracker/packaging/reports.py).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

CPH = ZoneInfo("Europe/Copenhagen")
#: unit, bytes per unit, decimals shown
SIZE_UNITS = (("kB", 10**3, 0), ("MB", 10**6, 1), ("GB", 10**9, 1), ("TB", 10**12, 1))


def english(lang: str | None) -> bool:
    return bool(lang) and str(lang).startswith("en")


def local_time(dt: datetime, lang: str | None = "da", with_seconds: bool = False) -> str:
    """``26.11.2026 kl. 14.05`` (Danish) or ``26.11.2026 at 14:05`` (English) in Danish time; a time without a
    zone is shown as given."""
    local = dt.astimezone(CPH) if dt.tzinfo is not None else dt
    if english(lang):
        return local.strftime("%d.%m.%Y at %H:%M:%S" if with_seconds else "%d.%m.%Y at %H:%M")
    return local.strftime("%d.%m.%Y kl. %H.%M.%S" if with_seconds else "%d.%m.%Y kl. %H.%M")


def file_size(n: int, lang: str | None = "da") -> str:
    """``525 B``, ``135 kB``, ``1,5 MB`` (Danish) or ``1.5 MB`` (English); 1 kB = 1000 bytes."""
    if n < 1000:
        return f"{n} B"
    for unit, factor, places in SIZE_UNITS:
        number = f"{n / factor:.{places}f}"
        if float(number) < 1000:  # 999,999 bytes is 1,0 MB, not 1000 kB
            break
    return f"{number if english(lang) else number.replace('.', ',')} {unit}"
