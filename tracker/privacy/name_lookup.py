"""Which offenders of the register are named in some texts, found through indexes instead of reading the register
(the offender access request's redaction, tracker.privacy.offender_access).

The redaction replaces a name where it stands whole (``(?<!\\w)name(?!\\w)``, ignoring case). Such a name's
runs (its longest stretches of letters, digits and _) are whole runs of the text, neighbours there, with the
same signs between them. So, with the spaces at its ends left out (handles are stored without; display names
are compared as ``lower(trim(display_name))``, migration 0018's index), every such name is one of:

- up to WHOLE_RUNS runs with the signs next to them: it *is* that piece of the text, looked up whole;
- more runs: it *begins* with its first WHOLE_RUNS + 1 runs (and the signs before them), looked up as a range
  of the same index;
- signs only, in a stretch of up to DECOR signs: looked up whole;
- beside or inside a longer stretch of signs: it has three of those signs in a row, which the trigram index
  (migration 0016) finds.

Every lookup is case-folded: handles are stored lower-case; SQLite's lower() folds only A–Z, so each other
letter (æ, ø, å …) is asked in both cases. The answer is a superset: ``offender_access`` compares every name
found with the text. Not looked for: letters whose cases do not pair up one to one (the Turkish ı and İ) may be
found differently from the redaction's own comparison, and a name that would stand only across the brackets of a
marker the redaction itself puts in ("x[e" at "[e-mail]").
"""
from __future__ import annotations

import itertools
import re

from sqlalchemy import and_, column, func, or_, select, table
from sqlalchemy.orm import Session

from storage.models import Offender
from tracker.oversight.search import OFFENDER_FTS

DECOR = 12  #: a stretch of signs up to this long: the names in and beside it are looked up whole
MAX_VARIANTS = 64  #: case spellings asked per whole name (2 per letter outside A–Z); beyond, the trigram index
WHOLE_RUNS = 4  #: names of up to this many runs are looked up whole; longer ones by their first WHOLE_RUNS + 1
BATCH = 400  #: strings per statement
_RUN = re.compile(r"\w+")


def fold(text: str) -> str:
    """Case-folded so that a name the redaction matches (ignoring case) is a substring of the text, folded."""
    return text.casefold().replace("\u0307", "").replace("ı", "i")


def _spellings(piece: str) -> list[str]:
    """``piece`` as ``lower(display_name)`` can hold it: A–Z lower-case, any other letter in either case."""
    if piece.isascii():
        return [piece.lower()]
    choices = [sorted({c.lower(), c.upper()}) if not c.isascii() and len(c.upper()) == 1 else [c.lower()]
               for c in piece]
    count = 1
    for options in choices:
        count *= len(options)
    if count > MAX_VARIANTS:
        return []
    return ["".join(p) for p in itertools.product(*choices)]


def lookup_strings(text: str, min_len: int) -> tuple[set[str], set[str], set[str]]:
    """(whole names, beginnings of longer names, three signs in a row for the trigram index) for ``text``."""
    whole, starts, signs = set(), set(), set()
    runs = [(m.start(), m.end()) for m in _RUN.finditer(text)]
    edges = [0, *(x for run in runs for x in run), len(text)]  # the stretches of signs: edges[2k] .. edges[2k+1]
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a > DECOR:
            signs.update(text[k:k + 3] for k in range(a, b - 2))
        else:
            whole.update(text[i:j] for i in range(a, b) for j in range(i + min_len, b + 1))
    for i, (start, _end) in enumerate(runs):
        before = min(DECOR, start - (runs[i - 1][1] if i else 0))
        for j in range(i, min(i + WHOLE_RUNS + 1, len(runs))):
            end = runs[j][1]
            after = min(DECOR, (runs[j + 1][0] if j + 1 < len(runs) else len(text)) - end) if j < i + WHOLE_RUNS else 0
            for d1 in range(before + 1):
                for d2 in range(after + 1):
                    (whole if j < i + WHOLE_RUNS else starts).add(text[start - d1:end + d2])
    whole = {w for w in whole if len(w) >= min_len}
    return ({w for w in whole if _bare(w)}, {w for w in starts if _bare(w + "x")}, signs)


def _bare(piece: str) -> bool:
    """No space at either end and no NUL (the Redactor's hidden pieces): a stored, trimmed name can be it."""
    return bool(piece) and piece[0] != " " and piece[-1] != " " and "\x00" not in piece


def _after(prefix: str) -> str:
    """The first string after every string that begins with ``prefix`` (binary order)."""
    return prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))


def offenders_named_in(session: Session, texts: list[str], min_len: int, *, exclude: set[int]) -> list[tuple]:
    """(id, handle, display_name) of the not erased offenders (but ``exclude``) whose handle or display name may
    stand in ``texts``, in id order: a superset, see the module's docstring."""
    whole, starts, signs = set(), set(), set()
    for text in texts:
        w, b, p = lookup_strings(text, min_len)
        whole |= w
        starts |= b
        signs |= p
    postgres = session.get_bind().dialect.name == "postgresql"
    handle = Offender.handle.collate("C") if postgres else Offender.handle  # binary order for the ranges
    name = func.lower(func.trim(Offender.display_name))
    name = name.collate("C") if postgres else name
    conditions, names, name_starts = [], set(), set()
    for w in whole:
        spelt = _spellings(w)
        names.update(spelt)
        if not spelt:
            signs.add(w)  # too many spellings: by the trigram index
    for b in starts:
        spelt = _spellings(b)
        name_starts.update(spelt)
        if not spelt:
            signs.add(b)
    for chunk in _chunks(sorted({w.lower() for w in whole} | {w.casefold() for w in whole})):
        conditions.append(handle.in_(chunk))
    for chunk in _chunks(sorted(names)):
        conditions.append(name.in_(chunk))
    for b in sorted({b.lower() for b in starts} | {b.casefold() for b in starts}):
        conditions.append(and_(handle >= b, handle < _after(b)))
    for b in sorted(name_starts):
        conditions.append(and_(name >= b, name < _after(b)))
    if signs and not postgres:  # each piece one FTS5 string: its trigrams in a row, no operators
        fts = table(OFFENDER_FTS, column("rowid"), column(OFFENDER_FTS))
        for chunk in _chunks(sorted(signs)):
            match = " OR ".join('"' + p.replace('"', '""') + '"' for p in chunk)
            conditions.append(Offender.id.in_(select(fts.c.rowid).where(fts.c[OFFENDER_FTS].op("MATCH")(match))))
    elif signs:  # ILIKE (pg_trgm finds no trigram in signs alone: these scan, for texts with long rows of signs)
        conditions += [c.icontains(p, autoescape=True) for p in sorted(signs) for c in (Offender.handle, Offender.display_name)]
    found: dict[int, tuple] = {}
    for chunk in _chunks(conditions, 50):
        for row in session.execute(select(Offender.id, Offender.handle, Offender.display_name)
                                   .where(or_(*chunk), Offender.erased_at.is_(None))):
            if row[0] not in exclude:
                found[row[0]] = tuple(row)
    return [found[k] for k in sorted(found)]


def _chunks(items: list, size: int = BATCH):
    for k in range(0, len(items), size):
        yield items[k:k + size]
