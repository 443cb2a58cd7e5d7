"""Cases: opening one from a report (URL or upload), finding one for a user, listing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from storage.models import Case, CaseCounter, Evidence, EvidenceState, Role, User
from storage.types import utcnow
from tracker.oversight import audit
from tracker.cases import casefacts
from tracker.cases.statement import OFFLINE_KINDS, Statement, check_kind, document
from storage.blobs import BlobStore
from tracker import after_commit
from tracker.errors import DomainError, NotFound
from tracker.workflow.platforms import PlatformDirectory, platform_for_url, shipped_directory
from tracker.accounts.permissions import can_report, can_view_case, visible_cases
from tracker.oversight.search import index_case_description
from tracker.workflow.steps import INFORM_LEADER, done_by_vaern

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 5000
CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class Report:
    """What an employee submits. ``episode_at`` None means "I don't know when"."""

    url: str | None
    episode_at: datetime | None
    description: str
    upload_sha256: str | None = None  #: uploaded file, already durable in the blob store
    upload_filename: str | None = None
    #: ``url`` (content online) or an episode without one: phone_call, letter, in_person, email, sms, other
    kind: str = "url"
    statement: Statement | None = None  #: the employee's own account; required for an episode without a URL
    #: further files, already durable in the blob store: (sha256, filename)
    more_uploads: tuple[tuple[str, str | None], ...] = ()

    @property
    def has_upload(self) -> bool:
        return bool(self.upload_sha256 or self.more_uploads)


def validate_url(url: str) -> str:
    """Shape checks a person can fix; the address policy (SSRF) is capture's job, checked by the worker.

    Never raises anything but DomainError: an address Python cannot even parse (a full-width colon, an
    unclosed ``[``) is ``invalid_url``.
    """
    url = (url or "").strip()
    if not url:
        raise DomainError("url_missing", "a URL is required", "url")
    if len(url) > MAX_URL_LENGTH:
        raise DomainError("url_too_long", f"the URL is longer than {MAX_URL_LENGTH} characters", "url")
    try:
        parts = urlsplit(url)
        hostname, _port = parts.hostname, parts.port
    except ValueError:
        raise DomainError("invalid_url", "the address cannot be read (check for odd characters, "
                          "brackets or a wrong colon)", "url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise DomainError("url_scheme", "only http:// and https:// addresses can be captured", "url")
    if not hostname:
        raise DomainError("url_malformed", "the address has no host name", "url")
    if any(c.isspace() for c in url) or any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise DomainError("url_malformed", "the address contains spaces or control characters", "url")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in url):
        raise DomainError("invalid_url", "the address contains characters that are not text", "url")
    return url


def validate_report(report: Report) -> Report:
    kind = check_kind(report.kind)
    if kind == "url":
        url = validate_url(report.url) if report.url or not report.has_upload else None
    else:  # an episode without a URL: an address is optional (a text message may carry one)
        url = validate_url(report.url) if (report.url or "").strip() else None
    statement = report.statement.cleaned() if report.statement is not None else None
    if statement is not None and statement.empty:
        statement = None
    if kind in OFFLINE_KINDS and (statement is None or not statement.what):
        raise DomainError("statement_missing", "an episode without a URL needs the employee's statement "
                          "(what was said or done)", "statement")
    desc = (report.description or "").strip()
    if len(desc) > MAX_DESCRIPTION_LENGTH:
        raise DomainError("description_too_long",
                          f"the description is longer than {MAX_DESCRIPTION_LENGTH} characters", "description")
    if report.episode_at is not None:
        if report.episode_at.tzinfo is None:
            raise DomainError("episode_naive", "the episode time needs a time zone", "episode_at")
        if report.episode_at > utcnow() + CLOCK_SKEW:
            raise DomainError("episode_future", "the episode time is in the future", "episode_at")
        if report.episode_at.year < 2000:
            raise DomainError("episode_too_old", "the episode time is before the year 2000", "episode_at")
    return Report(url=url, episode_at=report.episode_at, description=desc,
                  upload_sha256=report.upload_sha256, upload_filename=report.upload_filename, kind=kind,
                  statement=statement, more_uploads=report.more_uploads)


def next_ref(session: Session, now: datetime) -> str:
    """V-<year>-<5 digits>, sequential per year (row-locked counter)."""
    year = now.year
    # create the year's row race-free (two first reports of a year must not both INSERT it), then lock it
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(CaseCounter).values(year=year, last=0).on_conflict_do_nothing(index_elements=["year"]))
    counter = session.execute(
        select(CaseCounter).where(CaseCounter.year == year).with_for_update()).scalar_one()
    counter.last += 1
    session.flush()
    return f"V-{year}-{counter.last:05d}"


def open_case(session: Session, reporter: User, report: Report, directory: PlatformDirectory | None = None,
              blobs: BlobStore | None = None) -> Case:
    """Open a case in the reporter's unit with its first evidence, queued for capture after commit.

    A statement is written to ``blobs`` (durable before its evidence row) and sealed by the capture job."""
    if not can_report(reporter):
        raise DomainError("not_allowed", "only employees, leaders and AMR of a unit can report")
    report = validate_report(report)
    if report.statement is not None and blobs is None:
        raise ValueError("open_case needs the blob store for a statement")
    now = utcnow()
    case = Case(ref=next_ref(session, now), unit_id=reporter.unit_id, employee_id=reporter.id,
                reported_by_id=reporter.id, episode_at=report.episode_at, description=report.description,
                created_at=now, kind=report.kind,
                platform=platform_for_url(report.url, directory or shipped_directory()).id if report.url else None)
    session.add(case)
    session.flush()
    index_case_description(session, case)
    audit.record(session, reporter, "case.create", "case", case.ref, case.id,
                 episode_at=report.episode_at.isoformat() if report.episode_at else None,
                 facts_sha256=casefacts.created(case), **({"kind": report.kind} if report.kind != "url" else {}))
    if report.url:
        add_evidence(session, reporter, case, url=report.url)
    if report.upload_sha256:
        add_evidence(session, reporter, case, upload_sha256=report.upload_sha256,
                     upload_filename=report.upload_filename)
    for sha, name in report.more_uploads:
        add_evidence(session, reporter, case, upload_sha256=sha, upload_filename=name)
    if report.statement is not None:
        data = document(report.statement, kind=report.kind, case_ref=case.ref, episode_at=report.episode_at,
                        given_by=f"user:{reporter.id}", given_at=now)
        add_evidence(session, reporter, case, upload_sha256=blobs.put(data), upload_filename="statement.json",
                     kind="statement")
    after_commit.case_opened(session, case.id)
    return case


def add_evidence(session: Session, actor: User, case: Case, *, url: str | None = None,
                 upload_sha256: str | None = None, upload_filename: str | None = None,
                 kind: str | None = None) -> Evidence:
    """``kind``: url, upload or statement (the employee's statement, sealed like an upload)."""
    ev = Evidence(case=case, kind=kind or ("url" if url else "upload"), source_url=url,
                  upload_sha256=upload_sha256, original_filename=upload_filename,
                  state=EvidenceState.queued, created_by_id=actor.id)
    session.add(ev)
    session.flush()
    audit.record(session, actor, "evidence.request", "evidence", ev.id, case.id,
                 url=url, upload_sha256=upload_sha256, **({"kind": kind} if kind == "statement" else {}))
    after_commit.capture(session, ev.id)
    return ev


def get_case_for(session: Session, ref: str, user: User) -> Case:
    """The case ``ref`` if ``user`` may see it; NotFound otherwise (same for both)."""
    case = session.execute(select(Case).where(Case.ref == ref).options(
        selectinload(Case.evidence).selectinload(Evidence.artifacts))).scalar()
    if case is None or not can_view_case(user, case):
        raise NotFound(ref)
    return case


def list_cases_for(session: Session, user: User, closed_limit: int = 100) -> list[Case]:
    """Every open case the user may see (so no running deadline is ever left off), plus the latest closed ones."""
    visible = visible_cases(user)
    open_cases = session.execute(visible.where(Case.status == "open").order_by(Case.created_at.desc())).scalars()
    closed = session.execute(visible.where(Case.status != "open").order_by(Case.created_at.desc())
                             .limit(closed_limit)).scalars()
    return [*open_cases, *closed]


def view_case(session: Session, ref: str, user: User, rules=None) -> Case:
    """Fetch a case for display and log the view in the audit chain. With ``rules``, the unit's leader
    opening the case marks "inform the leader" done (by Værn, as the leader now knows)."""
    case = get_case_for(session, ref, user)
    audit.record(session, user, "case.view", "case", case.ref, case.id)
    if rules is not None and user.role is Role.leader and user.unit_id == case.unit_id:
        done_by_vaern(session, case, INFORM_LEADER, "leader_opened", rules=rules, leader_id=user.id)
    return case
