"""Which offenders of the register are named in some texts, found through indexes instead of reading the register
(the offender access request's redaction, tracker.privacy.offender_access).

The redaction replaces a name where it stands whole (``(?<!\\w)name(?!\\w)``, ignoring case). Such a name's
runs (its longest stretches of letters, digits and _) are then whole runs of the text, and what stands between
two of them in the name stands between them in the text. So every such name is one of:

- two runs or more: it contains two neighbouring runs of the text with the signs between them, and the trigram
  index (migration 0016) finds the offenders whose handle or name contains that pair;
- one run with at most DECOR signs on either side: it *is* that run of the text with a few of the signs around
  it, looked up whole by index, case-folded (handles are stored lower-case; display names through migration
  0018's index on ``lower(display_name)``, which folds only A–Z on SQLite, so each æ, ø, å … is asked in both
  cases);
- no run, or more signs around its one run: it contains three signs of the text in a row, which the trigram
  index finds.

The answer is a superset: ``offender_access`` compares every name found with the text. Letters whose cases do not
pair up one to one (the Turkish ı and İ) may be found differently from the redaction's own comparison.
"""
from __future__ import annotations

import itertools
import re

from sqlalchemy import column, func, or_, select, table
from sqlalchemy.orm import Session

from storage.models import Offender
from tracker.oversight.search import OFFENDER_FTS

DECOR = 12  #: a stretch of signs up to this long: the names in and around it are looked up whole
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


def lookup_strings(text: str, min_len: int) -> tuple[set[str], set[str]]:
    """(whole names to ask by equality, pieces a name may contain, asked of the trigram index) for ``text``."""
    whole, parts = set(), set()
    runs = [(m.start(), m.end()) for m in _RUN.finditer(text)]
    edges = [0, *(x for run in runs for x in run), len(text)]  # the stretches of signs: edges[2k] .. edges[2k+1]
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a > DECOR:  # a long stretch: a name in or beside it has three of its signs in a row
            parts.update(text[k:k + 3] for k in range(a, b - 2))
        else:  # a name of signs only is one of its pieces
            whole.update(text[i:j] for i in range(a, b) for j in range(i + min_len, b + 1))
    for i, (start, _end) in enumerate(runs):
        before = start - (runs[i - 1][1] if i else 0)
        for j in range(i, min(i + WHOLE_RUNS, len(runs))):
            end = runs[j][1]
            after = (runs[j + 1][0] if j + 1 < len(runs) else len(text)) - end
            for d1 in range(min(DECOR, before) + 1):
                for d2 in range(min(DECOR, after) + 1):
                    if d1 + (end - start) + d2 >= min_len:
                        whole.add(text[start - d1:end + d2])
        if i + WHOLE_RUNS < len(runs):
            parts.add(text[start:runs[i + WHOLE_RUNS][1]])
    return whole, parts


def offenders_named_in(session: Session, texts: list[str], min_len: int, *, exclude: set[int]) -> list[tuple]:
    """(id, handle, display_name) of the not erased offenders (but ``exclude``) whose handle or display name may
    stand in ``texts``, in id order: a superset, see the module's docstring."""
    whole, parts = set(), set()
    for text in texts:
        w, p = lookup_strings(text, min_len)
        whole |= w
        parts |= p
    whole = {w for w in whole if "\x00" not in w}  # no name holds a NUL (the Redactor's hidden pieces do)
    parts = {p for p in parts if "\x00" not in p}
    handles = {w.lower() for w in whole} | {w.casefold() for w in whole}
    names: set[str] = set()
    for w in whole:
        spelt = _spellings(w)
        names.update(spelt)
        if not spelt:
            parts.add(w)
    sqlite = session.get_bind().dialect.name == "sqlite"
    conditions = []
    for chunk in _chunks(sorted(handles)):
        conditions.append(Offender.handle.in_(chunk))
    for chunk in _chunks(sorted(names)):
        conditions.append(func.lower(Offender.display_name).in_(chunk))
    for chunk in _chunks(sorted(parts)):
        if sqlite:  # each piece one FTS5 string: its trigrams in a row, no operators
            fts = table(OFFENDER_FTS, column("rowid"), column(OFFENDER_FTS))
            match = " OR ".join('"' + p.replace('"', '""') + '"' for p in chunk)
            conditions.append(Offender.id.in_(select(fts.c.rowid).where(fts.c[OFFENDER_FTS].op("MATCH")(match))))
        else:  # ILIKE through the pg_trgm indexes
            conditions += [c.icontains(p, autoescape=True) for p in chunk for c in (Offender.handle, Offender.display_name)]
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
