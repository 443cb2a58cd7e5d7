"""Finding cases across the organisation (HR): filters, full-text search in captured text, keyset pages.

The searchable text of a case (``case_texts``) is its description plus the visible text of every
capture, bounded to ``MAX_BODY_CHARS``. It is indexed by FTS5 on SQLite (with prefix indexes for word
beginnings of 2 to 16 letters, migrations 0006 and 0017) and by a GIN index on
``to_tsvector('danish', body)`` on PostgreSQL (migration 0004). A user's words are reduced to plain
word tokens before they reach either query language, so no input can change the query's meaning.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, column, func, literal_column, or_, select, table, union
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from storage.models import Artifact, Case, CaseOffender, CaseText, Evidence, EvidenceState, Offender, Role, User
from storage.types import utcnow
from tracker.errors import DomainError, NotFound
from tracker.oversight import audit
from tracker.cases.lifecycle import CATEGORIES
from tracker.accounts.permissions import visible_cases

MAX_BODY_CHARS = 200_000  #: searchable text kept per case (description first, then captures in order)
MAX_TERMS = 12
MAX_TERM_CHARS = 60
MAX_PER_PAGE = 200
MAX_LISTED_IDS = 20_000
COUNT_CAP = 1000  #: counting stops here ("more than 1,000"): a count over 50,000 matches costs more than the page
NOT_ASSESSED = "none"  #: the category filter's value for cases not assessed yet
STATUSES = ("open", "closed")
FTS_TABLE = "case_text_fts"  #: SQLite (migration 0004)
PG_COLUMN = "body_tsv"  #: PostgreSQL: stored to_tsvector('danish', body) (migration 0004)
PG_INDEX = "ix_case_texts_body_tsv"  #: PostgreSQL: GIN over PG_COLUMN
OFFENDER_FTS = "offender_name_fts"  #: SQLite: trigram index over offenders' handle and display name (migration 0016)
PG_OFFENDER_INDEXES = ("ix_offenders_handle_trgm", "ix_offenders_display_name_trgm")  #: PostgreSQL: pg_trgm (0016)
OFFENDER_URL_FTS = "offender_url_fts"  #: SQLite: trigram index over offenders' profile addresses (migration 0018)
#: the offender access request's indexes (migration 0018): whole display names, profile addresses (PostgreSQL),
#: captures by their author
ACCESS_INDEXES = ("ix_offenders_display_name_lower", "ix_offenders_handle_c", "ix_offenders_profile_url_trgm",
                  "ix_case_texts_body_trgm", "ix_evidence_author")
TRIGRAM = 3  #: a trigram index finds parts of a name from this many characters; shorter ones read every name
_WORD = re.compile(r"[^\W_]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(value: str | None, limit: int = 200) -> str:
    """A user's filter text without control characters (PostgreSQL refuses NUL), trimmed and bounded."""
    return _CONTROL.sub("", value or "").strip()[:limit]


def is_search_index_object(name: str | None, type_: str, parent_names: dict | None = None) -> bool:
    """True for the search index objects migrations 0004, 0016 and 0018 create outside the models (for the drift
    check)."""
    return bool(name) and (name in (PG_INDEX, PG_COLUMN, FTS_TABLE, OFFENDER_FTS, OFFENDER_URL_FTS,
                                    *PG_OFFENDER_INDEXES, *ACCESS_INDEXES)
                           or name.startswith((FTS_TABLE + "_", OFFENDER_FTS + "_", OFFENDER_URL_FTS + "_")))


# -- indexing -------------------------------------------------------------------------------------
def add_case_text(session: Session, case_id: int, body: str) -> None:
    """Append ``body`` to the case's searchable text (race-free upsert; skipped if already contained)."""
    body = clean(body, MAX_BODY_CHARS)
    if not body:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    stmt = (pg_insert if postgres else sqlite_insert)(CaseText).values(case_id=case_id, body=body, updated_at=utcnow())
    contains = (func.strpos if postgres else func.instr)(CaseText.body, stmt.excluded.body) > 0
    stmt = stmt.on_conflict_do_update(
        index_elements=[CaseText.case_id],
        set_={"body": func.substr(CaseText.body + "\n\n" + stmt.excluded.body, 1, MAX_BODY_CHARS),
              "updated_at": stmt.excluded.updated_at},
        where=and_(~contains, func.length(CaseText.body) < MAX_BODY_CHARS))
    session.execute(stmt)


def index_case_description(session: Session, case: Case) -> None:
    """Make a new case's description searchable."""
    add_case_text(session, case.id, case.description)


def add_bundle_text(session: Session, case_id: int, bundle) -> None:
    """Make a sealed capture's visible text (its artifact of role "text", UTF-8) searchable on its case."""
    for role in ("text", "ocr_text"):  # the page's text, or the text read in an uploaded picture
        art = bundle.artifact(role)
        if art is not None:
            add_case_text(session, case_id, art.data[: MAX_BODY_CHARS * 4].decode("utf-8", errors="replace"))


def reindex_case_texts(rt, *, batch: int = 200) -> int:
    """Rebuild every case's searchable text from its description and its captures' stored text.

    For an upgrade (captures stored before migration 0004 were never indexed) or after a restore; each batch
    of cases is its own transaction, so the web app keeps working. Returns how many cases were indexed.
    """
    done, after = 0, 0
    while True:
        with rt.transaction() as session:
            cases = list(session.execute(select(Case).where(Case.id > after).order_by(Case.id).limit(batch)).scalars())
            if not cases:
                return done
            ids = [c.id for c in cases]
            texts = session.execute(
                select(Evidence.case_id, Artifact.sha256).join(Artifact, Artifact.evidence_id == Evidence.id)
                .where(Evidence.case_id.in_(ids), Evidence.state == EvidenceState.done, Artifact.role.in_(("text", "ocr_text")))
                .order_by(Evidence.id)).all()
            session.execute(CaseText.__table__.delete().where(CaseText.case_id.in_(ids)))
            for case in cases:
                add_case_text(session, case.id, case.description)
            for case_id, sha in texts:
                data = rt.blobs.read(sha)  # verified read: a damaged blob stops the rebuild with its name
                add_case_text(session, case_id, data[: MAX_BODY_CHARS * 4].decode("utf-8", errors="replace"))
            done, after = done + len(cases), ids[-1]


# -- searching ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseFilters:
    """What HR searches by; empty fields do not filter. ``created_from``/``created_to`` are aware, [from, to)."""

    employee: str = ""  #: part of the employee's name or e-mail
    employee_id: int | None = None
    unit_id: int | None = None
    offender: str = ""  #: part of a linked (not dismissed) offender's handle or display name
    platform: str = ""
    category: str = ""  #: one of CATEGORIES, NOT_ASSESSED, or "" for any
    status: str = ""  #: open | closed | "" for any
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str = ""  #: words that must all occur (as word beginnings) in the description or captured text

    def __post_init__(self) -> None:
        for name in ("employee", "offender", "platform", "category", "status"):
            object.__setattr__(self, name, clean(getattr(self, name)))
        object.__setattr__(self, "text", clean(self.text, 1000))
        if self.category and self.category not in (*CATEGORIES, NOT_ASSESSED):
            raise DomainError("bad_category", "unknown category", "category")
        if self.status and self.status not in STATUSES:
            raise DomainError("bad_status", "unknown status", "status")
        for name in ("created_from", "created_to"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise DomainError("naive_time", "the time needs a time zone", name)

    def is_empty(self) -> bool:
        return self == CaseFilters()


@dataclass(frozen=True)
class SearchResult:
    cases: list[Case]
    next_after: int | None  #: pass as ``after`` for the next page; None: this is the last page
    total: int | None  #: matching cases, counted up to COUNT_CAP + 1; None: not counted (a later page)
    terms: list[str] = field(default_factory=list)  #: the words actually searched for

    @property
    def total_capped(self) -> bool:
        return self.total is not None and self.total > COUNT_CAP


def text_terms(query: str) -> list[str]:
    """The user's words as plain word tokens (letters and digits only), lower-cased, at most MAX_TERMS."""
    terms: list[str] = []
    for word in _WORD.findall(query or ""):
        word = word.lower()[:MAX_TERM_CHARS]
        if word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def _fts_query(terms: list[str]) -> str:
    """Each term as a quoted FTS5 string with prefix match; terms hold letters and digits only, so no quote
    or operator (AND, NEAR, column filters) can appear."""
    return " ".join(f'"{t}"*' for t in terms)


#: PostgreSQL checks this many of the newest cases (filtered) one by one before it picks a text search's shape
PG_WINDOW = 2 * (COUNT_CAP + 1)
PG_COMMON_SHARE = 0.5  #: this share of the window matching makes the words "common": checked case by case
#: SQLite: filters (and the user's permission) that leave fewer cases than this are a text search's narrow
#: side; each match of the words is then looked up in their list of ids
SQLITE_NARROW = 10_000


def _few_ids(session: Session, query: Select, limit: int) -> tuple[int | None, int | None] | None:
    """The lowest and highest of the case ids ``query`` yields, if fewer than ``limit`` (a count that stops
    there); None if as many or more."""
    ids = query.limit(limit).subquery()
    count, low, high = session.execute(select(func.count(), func.min(ids.c.id), func.max(ids.c.id))).one()
    return (low, high) if count < limit else None


def _pg_text_condition(session: Session, cases: Select, terms: list[str]):
    """The case's text has every term as a (stemmed) word beginning; ``cases``: the filtered ids (keyset included).

    Two shapes, chosen by checking the newest PG_WINDOW of ``cases`` against their stored tsvectors. If the
    filters leave fewer cases than that, or at least PG_COMMON_SHARE of them match, each case is checked on
    its own while walking newest first (or through the filters' index), which stops after about a page:
    PostgreSQL cannot know how many cases match a prefix query, so through the GIN index it fetched every
    match (44,000 of 50,000 for "skændsel", 300 ms) to sort them for the newest 1,001, and even a bounded
    count of matches through the GIN index reads all of them first. Otherwise (the words are rarer) the
    matching ids come from the GIN index. The scalar subquery keeps the planner from turning the check back
    into a join.
    """
    query = " & ".join(f"{t}:*" for t in terms)  # letters/digits only: no tsquery operator can slip in
    texts = table("case_texts", column("case_id"), column(PG_COLUMN))
    matches = func.to_tsquery(literal_column("'danish'::regconfig"), query)

    def has_words(case_id):
        return select(texts.c[PG_COLUMN]).where(texts.c.case_id == case_id).scalar_subquery().bool_op("@@")(matches)

    newest = cases.order_by(Case.id.desc()).limit(PG_WINDOW).subquery()
    seen, found = session.execute(select(func.count(), func.count().filter(has_words(newest.c.id)))
                                  .select_from(newest)).one()
    if seen < PG_WINDOW or found >= PG_COMMON_SHARE * seen:
        return has_words(Case.id)
    return Case.id.in_(select(texts.c.case_id).where(texts.c[PG_COLUMN].bool_op("@@")(matches)))


def ids_containing(session: Session, id_column, columns: tuple, needle: str, *,
                   among: Select | None = None) -> list[int] | Select:
    """Ids of rows where any of ``columns`` contains ``needle``, ignoring case also for æ, ø, å.

    PostgreSQL's ILIKE folds every letter; SQLite's folds ASCII only, so there the (small) table of
    people or offenders is compared in Python: only the rows whose ids ``among`` yields, when given (the
    candidates an index found).
    """
    in_sql = select(id_column).where(or_(*(c.icontains(needle, autoescape=True) for c in columns)))
    if session.get_bind().dialect.name == "postgresql":
        return in_sql
    rows = select(id_column, *columns)
    if among is not None:
        rows = rows.where(id_column.in_(among))
    folded = needle.casefold()
    ids = [row[0] for row in session.execute(rows) if any(folded in (value or "").casefold() for value in row[1:])]
    return ids if len(ids) <= MAX_LISTED_IDS else in_sql  # beyond SQLite's bound-parameter limit: ASCII folding


def offender_ids_containing(session: Session, needle: str, *, profile_url: bool = False) -> list[int] | Select:
    """Ids of the offenders whose handle or display name (or, with ``profile_url``, profile address) contains
    ``needle``, as ``ids_containing`` decides.

    On SQLite a needle of TRIGRAM characters or more first asks the trigram index (case-insensitive as
    FTS5 folds letters, æ, ø, å included) which offenders can match, and only those are compared, so the
    search no longer reads the whole register. A name written with letters that case folding turns into
    two (ß, ẞ, ligatures such as ﬁ) is found by what FTS5 makes of it ("meiß" finds Meißner, "meiss" does
    not). The profile addresses have a trigram index of their own (migration 0018). PostgreSQL's ILIKE uses its
    pg_trgm indexes by itself.
    """
    columns = (Offender.handle, Offender.display_name, *((Offender.profile_url,) if profile_url else ()))
    among = None
    if session.get_bind().dialect.name == "sqlite" and len(needle) >= TRIGRAM:
        phrase = '"' + needle.replace('"', '""') + '"'  # one FTS5 string: its trigrams in a row, no operators
        indexes = [OFFENDER_FTS, *((OFFENDER_URL_FTS,) if profile_url else ())]
        found = [select(fts.c.rowid).where(fts.c[name].op("MATCH")(phrase))
                 for name in indexes for fts in (table(name, column("rowid"), column(name)),)]
        among = found[0] if len(found) == 1 else union(*found)
    return ids_containing(session, Offender.id, columns, needle, among=among)


def case_ids_mentioning(session: Session, needle: str) -> list[int]:
    """Ids of the cases whose searchable text holds ``needle``, ignoring case, where a word begins (its first
    letter or digit not right after another: "ole" finds "Ole", not "skole").

    SQLite: the full-text index names the cases that have each of its words as a word beginning, and only
    their texts are compared. PostgreSQL: a regular expression, through the pg_trgm index of migration 0018
    (the Danish full-text index leaves out words such as "hans" and reads a web address as one word).
    """
    starts = r"(?<![^\W_])" if needle[:1].isalnum() else ""
    if session.get_bind().dialect.name == "postgresql":
        escaped = "".join(c if c.isalnum() else "\\" + c for c in needle)  # ARE: a backslash before a sign is that sign
        pattern = ("(^|[^[:alnum:]])" if starts else "") + escaped
        return list(session.execute(select(CaseText.case_id).where(CaseText.body.regexp_match(pattern, "i"))).scalars())
    terms = text_terms(needle)
    rows = select(CaseText.case_id, CaseText.body)
    if terms:
        fts = table(FTS_TABLE, column("rowid"), column(FTS_TABLE))
        rows = rows.where(CaseText.case_id.in_(select(fts.c.rowid).where(fts.c[FTS_TABLE].op("MATCH")(_fts_query(terms)))))
    mention = re.compile(starts + re.escape(needle), re.I)
    return [case_id for case_id, body in session.execute(rows) if mention.search(body)]


def _conditions(session: Session, f: CaseFilters) -> list:
    where = []
    if f.employee_id is not None:
        where.append(Case.employee_id == f.employee_id)
    if f.employee.strip():
        needle = f.employee.strip()
        where.append(Case.employee_id.in_(ids_containing(session, User.id, (User.name, User.email), needle)))
    if f.unit_id is not None:
        where.append(Case.unit_id == f.unit_id)
    if f.offender.strip():
        needle = f.offender.strip().lstrip("@")
        offenders = offender_ids_containing(session, needle)
        where.append(Case.id.in_(select(CaseOffender.case_id).where(
            CaseOffender.state != "dismissed", CaseOffender.offender_id.in_(offenders))))
    if f.platform:
        where.append(Case.platform == f.platform)
    if f.category == NOT_ASSESSED:
        where.append(Case.category.is_(None))
    elif f.category:
        where.append(Case.category == f.category)
    if f.status:
        where.append(Case.status == f.status)
    if f.created_from is not None:
        where.append(Case.created_at >= f.created_from)
    if f.created_to is not None:
        where.append(Case.created_at < f.created_to)
    return where


def search_ids_query(session: Session, user: User, filters: CaseFilters, *, after: int | None = None) -> Select:
    """The ids of the matching cases ``user`` may see, newest first (unlimited; callers add a limit).

    On SQLite a text search is driven by the FTS5 index in descending rowid order, so a common word stops
    after one page instead of collecting every match first. When the filters leave few cases (fewer than
    SQLITE_NARROW, found by a count that stops there: a unit and a status, an employee, a short period),
    their ids are collected once and each match is looked up among them rather than in the cases table
    (about half the cost when the walk passes every match), and FTS5 walks only the span of their ids (a
    period). PostgreSQL: see _pg_text_condition.
    """
    dialect = session.get_bind().dialect.name
    query = visible_cases(user).where(*_conditions(session, filters)).with_only_columns(Case.id)
    if after is not None:
        query = query.where(Case.id < after)
    terms = text_terms(filters.text)
    if terms and dialect == "postgresql":
        query = query.where(_pg_text_condition(session, query, terms))
    elif terms:
        fts = table(FTS_TABLE, column("rowid"), column(FTS_TABLE))
        matching = fts.c[FTS_TABLE].op("MATCH")(_fts_query(terms))
        span = _few_ids(session, query, SQLITE_NARROW) if query.whereclause is not None else None
        if span:  # "+ 0": a list to look each match up in, not rowids for FTS5 to fetch one by one
            query = select(fts.c.rowid).where(matching, fts.c.rowid.between(*span), (fts.c.rowid + 0).in_(query))
        else:
            query = query.join(fts, fts.c.rowid == Case.id).where(matching)
        if after is not None:
            query = query.where(fts.c.rowid < after)
        return query.order_by(fts.c.rowid.desc())
    return query.order_by(Case.id.desc())


def search_cases(session: Session, user: User, filters: CaseFilters, *, after: int | None = None,
                 per_page: int = 50) -> SearchResult:
    """One page of matching cases, newest first (by id); ``after`` is the last case id shown.

    The first page also counts the matches, up to COUNT_CAP + 1, in the same statement.
    """
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    limit = COUNT_CAP + 1 if after is None else per_page + 1
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:  # the planner's cost ignores the LIMIT's early stop and grows with the table: past jit_above_cost
        # PostgreSQL compiled the query first (12 ms of 15 at 50,000 cases); off for these statements only
        jit = session.execute(select(func.current_setting("jit"), func.set_config("jit", "off", True))).scalar()
    ids = list(session.execute(search_ids_query(session, user, filters, after=after).limit(limit)).scalars())
    if postgres:
        session.execute(select(func.set_config("jit", jit, True)))
    shown = ids[:per_page]
    cases = {c.id: c for c in session.execute(select(Case).where(Case.id.in_(shown)).options(
        selectinload(Case.employee), selectinload(Case.unit))).scalars()} if shown else {}
    return SearchResult(cases=[cases[i] for i in shown], next_after=shown[-1] if len(ids) > per_page else None,
                        total=len(ids) if after is None else None, terms=text_terms(filters.text))


def find_cases(session: Session, user: User, filters: CaseFilters, *, after: int | None = None,
               per_page: int = 50, asked: dict | None = None) -> SearchResult:
    """HR's case search (NotFound for anyone else), logged as ``case.search`` with what was asked for
    (``asked``: the filled-in fields as typed) and how many cases were found."""
    if user.role is not Role.hr:
        raise NotFound("search")
    result = search_cases(session, user, filters, after=after, per_page=per_page)
    audit.record(session, user, "case.search", "case", "-", None, found=result.total, after=after,
                 **{k: v for k, v in (asked or {}).items() if v})
    return result
