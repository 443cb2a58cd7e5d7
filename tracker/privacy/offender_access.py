"""An offender's own access request (GDPR art. 15, issue 16.4): what Værn holds about a name or handle, with
other people's data redacted in what is handed out.

``search`` finds the offender records whose handle, display name or profile address contains the words asked
for, the cases linked to them, and the cases whose searchable text (the description and the captured text,
tracker.oversight.search) mentions them where a word begins or whose capture they wrote; each case contributes
excerpts around the mentions. Every excerpt and every free-text field goes through ``Redactor``: the names and
e-mails of every Værn user (the employees), the handles and names of every other offender (of those that stand in
the excerpts, found by index: tracker.privacy.name_lookup), and e-mail addresses, CPR numbers,
telephone numbers, web addresses and @handles that are not the person's own are replaced by a marker, and each
replacement is counted. That is mechanical: a third party named only in free text (a neighbour's first name,
a nickname) is not found, so the handout is always a DRAFT that HR must read and complete before it is handed
out (the handout says so, and lists what was redacted and how many times).

Who searched for whom is audited: one ``subject.offender_search`` event (the words asked, the records and cases
found, whether a handout was made) and one ``case.subject_search`` event per case found, in its history.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from storage.models import Case, CaseOffender, CaseText, Evidence, Offender, Role, User
from tracker.errors import DomainError
from tracker.oversight import audit
from tracker.oversight.offenders import normalise_handle
from tracker.oversight.search import case_ids_mentioning, clean, offender_ids_containing
from tracker.privacy import name_lookup
from tracker.privacy.name_lookup import fold
from tracker.packaging import vocabulary
from tracker.packaging.reports import CPH, TEMPLATES

SEARCH_ROLES = (Role.hr,)  #: HR only: the result shows case text, which the administrator does not read
MIN_QUERY = 3
EXCERPT_RADIUS = 160  #: characters either side of a mention
MAX_EXCERPTS = 6  #: per case
MAX_CASES = 200
MIN_NAME_PART = 3  #: a user's first or last name alone is redacted from this many letters
DRAFT_DA = ("UDKAST — skal gennemgås af HR før udlevering. Andre personers oplysninger er fjernet maskinelt "
            "(se listen over overstregninger); navne på tredjepersoner, som kun står i fritekst, kan ikke findes "
            "maskinelt og skal fjernes i hånden.")
MARKERS = {  #: what replaces a redacted piece, and the handout's words for the kind
    "employee_name": ("[medarbejder]", "navne på kommunens medarbejdere (Værns brugere)"),
    "employee_email": ("[e-mail]", "e-mailadresser på kommunens medarbejdere"),
    "other_offender": ("[anden person]", "profilnavne og navne på andre personer i krænkerregistret"),
    "email": ("[e-mail]", "andre e-mailadresser"),
    "cpr": ("[CPR-nr.]", "CPR-numre"),
    "phone": ("[telefon]", "telefonnumre"),
    "url": ("[adresse]", "webadresser, der ikke er personens egne"),
    "handle": ("[profil]", "@-profilnavne, der ikke er personens egne"),
}
KIND_DA = {"grieving_relative": "den sørgende slægtning", "aggrieved_citizen": "den forurettede borger",
           "professional_querulant": "den professionelle kværulant", "unknown": "ikke vurderet"}
_PATTERNS = (  # applied in this order, before the known names
    ("url", re.compile(r"https?://[^\s<>\"'\x00]+", re.I)),
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("cpr", re.compile(r"\b[0-3]\d[01]\d{3}[- ]?\d{4}\b")),
    ("phone", re.compile(r"(?<![\w+])(?:\+45[ ]?)?\d{2}[ ]?\d{2}[ ]?\d{2}[ ]?\d{2}\b")),
    ("handle", re.compile(r"(?<![\w@])@[\w.]{2,}")),
)
_MARKER_TEXTS = tuple(dict.fromkeys(marker for marker, _what in MARKERS.values()))
_MARKER_TEXT = "\x00".join(fold(m) for m in _MARKER_TEXTS)


class Redactor:
    """Replaces other people's data in a text by markers (``MARKERS``), never the person's own ``keep`` terms;
    counts each kind (``counts``). ``names`` (term, kind) are applied longest first (equal lengths in their order)."""

    def __init__(self, keep: list[str], names: list[tuple[str, str]]):
        #: the person's own handles, names and profile addresses (longest first), left as they are
        self.keep = sorted({k for k in keep if k}, key=len, reverse=True)
        self.names = sorted(names, key=lambda n: len(n[0]), reverse=True)
        self._folded = [fold(term) for term, _kind in self.names]
        self._compiled: dict[int, re.Pattern] = {}
        self.counts: Counter[str] = Counter()

    def prepare(self, text: str) -> tuple[str, list[str]]:
        """The text with the person's own terms hidden (and the hidden pieces) and the patterns' data marked."""
        kept: list[str] = []

        def hide(m: re.Match) -> str:
            kept.append(m.group(0))
            return f"\x00{len(kept) - 1}\x00"

        for term in self.keep:
            text = re.sub(re.escape(term), hide, text, flags=re.I)
        for kind, pattern in _PATTERNS:
            text = pattern.sub(lambda m, k=kind: self._mark(k), text)
        return text, kept

    def __call__(self, text: str | None) -> str:
        if not text:
            return ""
        text, kept = self.prepare(text)
        folded = fold(text)
        for i, (term, kind) in enumerate(self.names):
            # a name can only match where it stands, or where an earlier name's marker put its letters or brackets
            if self._folded[i] in folded or self._folded[i] in _MARKER_TEXT or "[" in term or "]" in term:
                if i not in self._compiled:
                    self._compiled[i] = re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)", re.I)
                text = self._compiled[i].sub(lambda m, k=kind: self._mark(k), text)
        return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)

    def _mark(self, kind: str) -> str:
        self.counts[kind] += 1
        return MARKERS[kind][0]

    def report(self) -> list[dict[str, Any]]:
        return [{"what": MARKERS[k][1], "marker": MARKERS[k][0], "count": n} for k, n in sorted(self.counts.items())]


def _keep_terms(own: list[Offender], query: str) -> list[str]:
    return [query, *(t for o in own for t in (o.handle, "@" + o.handle, o.display_name, o.profile_url))]


def employee_names(session: Session, folded_keep: set[str]) -> list[tuple[str, str]]:
    """Every Værn user's e-mail, name and first/last names (MIN_NAME_PART letters or more) but the person's own."""
    names: list[tuple[str, str]] = []
    for name, email in session.execute(select(User.name, User.email)):
        names.append((email, "employee_email"))
        parts = [name, *(p for p in name.split() if len(p) >= MIN_NAME_PART)]
        names += [(p, "employee_name") for p in parts if p.casefold() not in folded_keep]
    return names


def redactor_for(session: Session, own: list[Offender], query: str, texts: list[str]) -> Redactor:
    """A Redactor for ``texts`` that keeps the person's own terms (the words asked for, the found records' handles,
    names and profile addresses) and removes every Værn user's name and e-mail and every other offender's handle
    and name, as a Redactor given the whole register would: the register is not read, the offenders named in
    the texts are looked up (tracker.privacy.name_lookup), in id order."""
    keep = _keep_terms(own, query)
    folded_keep = {k.casefold() for k in keep if k}
    names = employee_names(session, folded_keep)
    probe = Redactor(keep, [])
    prepared = [probe.prepare(t)[0] for t in texts if t] + list(_MARKER_TEXTS)
    folded = "\x00".join(fold(t) for t in prepared)
    for _oid, handle, display in name_lookup.offenders_named_in(session, prepared, MIN_NAME_PART,
                                                                exclude={o.id for o in own}):
        names += [(t, "other_offender") for t in (handle, display) if t and len(t) >= MIN_NAME_PART
                  and t.casefold() not in folded_keep and (fold(t) in folded or "[" in t or "]" in t)]
    return Redactor(keep, names)


@dataclass
class CaseFound:
    ref: str
    opened: str
    closed: str | None
    status: str
    platform: str | None
    category: str | None
    why: list[str]  #: linked | mentioned | author
    excerpts: list[str] = field(default_factory=list)
    own_posts: list[str] = field(default_factory=list)  #: captured addresses of posts the person wrote


@dataclass
class Access:
    """What Værn holds about the name or handle asked for, redacted (``redactions``: what was removed, counted)."""

    query: str
    generated_at: str
    offenders: list[dict[str, Any]]
    cases: list[CaseFound]
    redactions: list[dict[str, Any]]
    draft: str = DRAFT_DA

    def to_json(self) -> dict[str, Any]:
        return {"draft": True, "notice_da": self.draft, "query": self.query, "generated_at": self.generated_at,
                "offender_records": self.offenders, "cases": [asdict(c) for c in self.cases],
                "redacted_mechanically": self.redactions,
                "not_redacted_da": "Navne på tredjepersoner i fritekst, billeder og skærmbilleder er ikke gennemgået "
                                   "maskinelt; billeder og filer er ikke med i udleveringen."}


def _require(actor: User | None) -> None:
    if actor is not None and not (actor.active and actor.role in SEARCH_ROLES):
        raise DomainError("not_allowed", "only HR may search for what Værn holds about a person")


def _local(dt: datetime | None) -> str | None:
    return dt.astimezone(CPH).strftime("%d.%m.%Y") if dt else None


def _excerpts(body: str, terms: list[str]) -> list[tuple[str, str, str]]:
    """Up to MAX_EXCERPTS windows of the body around the terms' mentions (merged where they overlap), not yet
    redacted: (lead, piece, tail)."""
    folded = body.casefold()
    spans: list[list[int]] = []
    for term in {t.casefold() for t in terms if t and len(t) >= MIN_QUERY}:
        start = folded.find(term)
        while start >= 0 and len(spans) < 4 * MAX_EXCERPTS:
            spans.append([max(0, start - EXCERPT_RADIUS), min(len(body), start + len(term) + EXCERPT_RADIUS)])
            start = folded.find(term, start + len(term))
    merged: list[list[int]] = []
    for span in sorted(spans):
        if merged and span[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span[1])
        else:
            merged.append(span)
    out = []
    for a, b in merged[:MAX_EXCERPTS]:
        piece = " ".join(body[a:b].split())
        out.append(("… " if a else "", piece, " …" if b < len(body) else ""))
    return out


def search(rt, session: Session, actor: User | None, query: str, *, handout: bool = False) -> Access:
    """What Værn holds about ``query`` (a name or handle), redacted; audited (who searched, for what, what was
    found). ``rt`` names the platforms. DomainError ``query_short`` for fewer than MIN_QUERY characters."""
    _require(actor)
    query = clean(query)
    if len(query) < MIN_QUERY:
        raise DomainError("query_short", f"write at least {MIN_QUERY} characters of the name or handle", "query")
    handle = normalise_handle(query) or query
    found = offender_ids_containing(session, handle, profile_url=True)
    own = list(session.execute(select(Offender).where(Offender.id.in_(found), Offender.erased_at.is_(None))
                               .order_by(Offender.id)).scalars())
    why: dict[int, list[str]] = {}
    if own:
        for (case_id,) in session.execute(select(CaseOffender.case_id).where(
                CaseOffender.offender_id.in_([o.id for o in own]), CaseOffender.state != "dismissed")):
            why.setdefault(case_id, []).append("linked")
    for case_id in case_ids_mentioning(session, query):
        why.setdefault(case_id, []).append("mentioned")
    handles = {handle, *(o.handle for o in own)}
    #: a capture stores the handle as the page shows it; the expression of migration 0018's index, literally
    author = func.lower(func.ltrim(Evidence.author_handle, literal_column("'@'")))
    for (case_id,) in session.execute(select(Evidence.case_id).where(author.in_(handles)).distinct()):
        why.setdefault(case_id, []).append("author")
    cases = list(session.execute(select(Case).where(Case.id.in_(list(why)), Case.erased_at.is_(None))
                                 .order_by(Case.id).limit(MAX_CASES)).scalars())
    terms = [query, handle, *(t for o in own for t in (o.handle, o.display_name))]
    found_cases, pieces = [], {}
    for case in cases:
        body = session.execute(select(CaseText.body).where(CaseText.case_id == case.id)).scalar() or ""
        posts = [u for (u,) in session.execute(select(Evidence.source_url).where(
            Evidence.case_id == case.id, author.in_(handles), Evidence.source_url.is_not(None)))]
        found_cases.append(CaseFound(
            ref=case.ref, opened=_local(case.created_at), closed=_local(case.closed_at), status=case.status,
            platform=_platform(rt, case.platform), category=vocabulary.danish(vocabulary.CATEGORIES, case.category,
                                                                               case.category),
            why=sorted(set(why[case.id])), own_posts=posts))
        pieces[case.ref] = _excerpts(body, terms)
    redact = redactor_for(session, own, query, [p for ps in pieces.values() for _a, p, _b in ps]
                          + [o.note for o in own])
    for found in found_cases:
        found.excerpts = [lead + redact(piece) + tail for lead, piece, tail in pieces[found.ref]]
    records = [{"id": o.id, "platform": _platform(rt, o.platform), "handle": o.handle, "profile_url": o.profile_url,
                "display_name": o.display_name, "kind": KIND_DA.get(o.kind.value, o.kind.value),
                "note": redact(o.note), "registered": _local(o.created_at)} for o in own]
    audit.record(session, actor, "subject.offender_search", "subject_search", "-", None, query=query,
                 offenders=[o.id for o in own], cases=[c.ref for c in cases], handout=handout or None)
    for case in cases:
        audit.record(session, actor, "case.subject_search", "case", case.ref, case.id, handout=handout or None)
    return Access(query, datetime.now(timezone.utc).astimezone(CPH).strftime("%d.%m.%Y %H.%M"), records,
                  found_cases, redact.report())


def _platform(rt, platform_id: str | None) -> str | None:
    if not platform_id:
        return None
    try:
        return str(rt.platforms.get(platform_id).name)
    except KeyError:
        return platform_id


# -- the handout ------------------------------------------------------------------------------------
def handout_html(access: Access) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("offender_access.html.j2").render(a=access)


def handout_zip(rt, access: Access) -> bytes:
    """handout.json and handout.pdf (Danish, printed by the offline Chromium) in a ZIP; raises PdfRenderFailed."""
    pdf = rt.print_pdf(handout_html(access), header="Værn · Indsigt · UDKAST til gennemgang",
                       footer=f"Søgning: {access.query}", page_label="Side {page} af {pages}", timeout_seconds=60.0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("udlevering.json", json.dumps(access.to_json(), ensure_ascii=False, indent=2))
        zf.writestr("udlevering.pdf", pdf)
    return buf.getvalue()
