"""Offenders: the accounts behind posts, recognised across cases by platform and normalised handle.

A capture with an author handle *suggests* the offender on its case; the unit's leader (or HR)
confirms or dismisses the suggestion, adds an offender by hand and sets the offender type
(DOMAIN.md "Offender types"). Recognising a recurring offender tells the employee it is not personal.

Plain functions over a session; they flush, the caller commits. Every change is an audit event
(actor None: the system). Who may change: ``tracker.workflow.steps.can_manage_case`` (the unit's leader, HR);
a case the user may not see raises NotFound, one they may only read DomainError("not_allowed").
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import distinct, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import Case, CaseOffender, Evidence, Offender, OffenderKind, Role, User
from storage.types import utcnow
from tracker.oversight import audit
from tracker.errors import DomainError, NotFound
from tracker.accounts.permissions import can_view_case, visible_cases
from tracker.workflow.steps import can_manage_case

SUGGESTED, CONFIRMED, DISMISSED = "suggested", "confirmed", "dismissed"
ACTIVE = (SUGGESTED, CONFIRMED)  #: links that count: a dismissed suggestion means "not this person"
GENERIC = "generic"
MAX_HANDLE, MAX_NAME, MAX_URL, MAX_NOTE = 200, 200, 2048, 5000
OVERSIGHT_ROLES = (Role.hr, Role.leader, Role.amr)  #: who may open the offender pages


# -- normalising -------------------------------------------------------------------------------------
def normalise_handle(raw: str | None) -> str | None:
    """NFC, stripped, lower-case, without a leading '@'; None when nothing is left."""
    if raw is None:
        return None
    handle = unicodedata.normalize("NFC", raw).strip().lstrip("@").strip().lower()
    return handle or None


def _text(value: str | None, limit: int, field: str) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise DomainError("text_too_long", f"longer than {limit} characters", field)
    return value or None


def _profile_url(value: str | None) -> str | None:
    url = _text(value, MAX_URL, "profile_url")
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise DomainError("bad_profile_url", "the profile address must start with http:// or https://", "profile_url")
    return url


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# -- creating and linking -----------------------------------------------------------------------------
def find_or_create(session: Session, platform: str, handle: str, *, actor: User | None = None,
                   profile_url: str | None = None, display_name: str | None = None,
                   case_id: int | None = None) -> Offender:
    """The offender ``platform``/``handle`` (normalised), created if new; race-free between workers."""
    norm = normalise_handle(handle)
    if norm is None:
        raise DomainError("handle_missing", "a handle is required", "handle")
    if len(norm) > MAX_HANDLE:
        raise DomainError("text_too_long", f"the handle is longer than {MAX_HANDLE} characters", "handle")
    platform = platform or GENERIC
    res = session.execute(_insert(session)(Offender.__table__).values(
        platform=platform, handle=norm, profile_url=profile_url, display_name=display_name,
        kind=OffenderKind.unknown, note="", created_by_id=actor.id if actor else None, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["platform", "handle"]).returning(Offender.__table__.c.id))
    created = res.scalar() is not None
    offender = session.execute(select(Offender).where(Offender.platform == platform, Offender.handle == norm)
                               ).scalar_one()
    if created:
        audit.record(session, actor, "offender.create", "offender", offender.id, case_id,
                     platform=platform, handle=norm)
    elif offender.profile_url is None and profile_url:
        offender.profile_url = profile_url
        audit.record(session, actor, "offender.update", "offender", offender.id, case_id,
                     changes={"profile_url": [None, profile_url]})
    return offender


def _link(session: Session, case_id: int, offender: Offender, state: str, *, actor: User | None,
          evidence_id: int | None) -> CaseOffender | None:
    """Insert the link unless one exists (race-free); None if it existed."""
    now = utcnow()
    res = session.execute(_insert(session)(CaseOffender.__table__).values(
        case_id=case_id, offender_id=offender.id, state=state, evidence_id=evidence_id,
        decided_by_id=actor.id if actor and state != SUGGESTED else None,
        decided_at=now if state != SUGGESTED else None, created_at=now,
    ).on_conflict_do_nothing(index_elements=["case_id", "offender_id"]).returning(CaseOffender.__table__.c.id))
    if res.scalar() is None:
        return None
    return session.execute(select(CaseOffender).where(CaseOffender.case_id == case_id,
                                                      CaseOffender.offender_id == offender.id)).scalar_one()


def platform_of_capture(case_platform: str | None, manifest_platform: str | None) -> str:
    """The capture's own platform when its adapter knows it, else the case's, else ``generic``.

    The capture's is preferred: a case may hold posts from several platforms.
    """
    if manifest_platform and manifest_platform != GENERIC:
        return manifest_platform
    return case_platform or manifest_platform or GENERIC


def suggest_from_evidence(session: Session, ev: Evidence, manifest_platform: str | None = None
                          ) -> CaseOffender | None:
    """Suggest the captured author on the evidence's case (unless already linked, in any state)."""
    handle = normalise_handle(ev.author_handle)
    if handle is None or len(handle) > MAX_HANDLE:
        return None
    case = ev.case if ev.case is not None else session.get(Case, ev.case_id)
    offender = find_or_create(session, platform_of_capture(case.platform, manifest_platform), handle,
                              profile_url=ev.author_profile_url, case_id=case.id)
    link = _link(session, case.id, offender, SUGGESTED, actor=None, evidence_id=ev.id)
    if link is not None:
        audit.record(session, None, "offender.suggested", "offender", offender.id, case.id,
                     evidence_id=ev.id, handle=offender.handle, platform=offender.platform)
    return link


# -- the leader's decisions ---------------------------------------------------------------------------
def _require_manage(user: User, case: Case) -> None:
    if not can_view_case(user, case):
        raise NotFound(case.ref)
    if not can_manage_case(user, case):
        raise DomainError("not_allowed", "you may read this case but not change it")


def _link_of(session: Session, case: Case, link_id: int) -> CaseOffender:
    link = session.get(CaseOffender, link_id)
    if link is None or link.case_id != case.id:
        raise NotFound(str(link_id))
    return link


def decide(session: Session, case: Case, link_id: int, state: str, actor: User) -> CaseOffender:
    """Confirm or dismiss an offender on the case."""
    _require_manage(actor, case)
    if state not in (CONFIRMED, DISMISSED):
        raise DomainError("bad_state", "confirm or dismiss", "state")
    link = _link_of(session, case, link_id)
    link.state, link.decided_by_id, link.decided_at = state, actor.id, utcnow()
    session.flush()
    audit.record(session, actor, f"offender.{state}", "offender", link.offender_id, case.id, link_id=link.id)
    return link


def add_by_hand(session: Session, case: Case, actor: User, *, platform: str, handle: str,
                profile_url: str | None = None, display_name: str | None = None,
                known_platforms: tuple[str, ...] | None = None) -> CaseOffender:
    """Link an offender the leader knows of (confirmed at once); a dismissed link is confirmed again."""
    _require_manage(actor, case)
    platform = (platform or GENERIC).strip()
    if known_platforms is not None and platform not in known_platforms:
        raise DomainError("bad_platform", "unknown platform", "platform")
    url, name = _profile_url(profile_url), _text(display_name, MAX_NAME, "display_name")
    offender = find_or_create(session, platform, handle, actor=actor, profile_url=url, display_name=name,
                              case_id=case.id)
    if name and not offender.display_name:
        offender.display_name = name
    link = _link(session, case.id, offender, CONFIRMED, actor=actor, evidence_id=None)
    if link is None:
        link = session.execute(select(CaseOffender).where(CaseOffender.case_id == case.id,
                                                          CaseOffender.offender_id == offender.id)).scalar_one()
        link.state, link.decided_by_id, link.decided_at = CONFIRMED, actor.id, utcnow()
    session.flush()
    audit.record(session, actor, "offender.linked", "offender", offender.id, case.id, link_id=link.id,
                 handle=offender.handle, platform=offender.platform)
    return link


def update_profile(session: Session, case: Case, link_id: int, actor: User, *, kind: str,
                   note: str | None, display_name: str | None) -> Offender:
    """Set the offender's type, note and display name, from a case it is linked to."""
    _require_manage(actor, case)
    link = _link_of(session, case, link_id)
    try:
        new_kind = OffenderKind(kind)
    except ValueError:
        raise DomainError("bad_kind", "unknown offender type", "kind") from None
    offender = session.get(Offender, link.offender_id)
    before = offender.kind.value
    offender.kind = new_kind
    offender.note = _text(note, MAX_NOTE, "note") or ""
    offender.display_name = _text(display_name, MAX_NAME, "display_name")
    session.flush()
    audit.record(session, actor, "offender.update", "offender", offender.id, case.id,
                 kind=new_kind.value, kind_before=before if before != new_kind.value else None)
    return offender


# -- reading ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OffenderOnCase:
    """One offender link of a case, with the other cases the offender is seen in."""

    link: CaseOffender
    offender: Offender
    other_cases: int  #: every other case with an active link, whoever may see it
    shown_cases: list[Case]  #: those of them the viewer may see

    @property
    def hidden_cases(self) -> int:
        return self.other_cases - len(self.shown_cases)


def offenders_on_case(session: Session, case: Case, viewer: User) -> list[OffenderOnCase]:
    """The case's offender links (active first), each with "seen in N other cases"."""
    links = list(session.execute(select(CaseOffender).where(CaseOffender.case_id == case.id)
                                 .order_by(CaseOffender.id)).scalars())
    ids = [link.offender_id for link in links]
    if not ids:
        return []
    others = (CaseOffender.offender_id.in_(ids), CaseOffender.case_id != case.id, CaseOffender.state.in_(ACTIVE))
    counts = dict(session.execute(select(CaseOffender.offender_id, func.count(distinct(CaseOffender.case_id)))
                                  .where(*others).group_by(CaseOffender.offender_id)).all())
    shown: dict[int, list[Case]] = {}
    q = (visible_cases(viewer).join(CaseOffender, CaseOffender.case_id == Case.id).where(*others)
         .add_columns(CaseOffender.offender_id).order_by(Case.created_at.desc()))
    for other, offender_id in session.execute(q).all():
        shown.setdefault(offender_id, []).append(other)
    offenders = {o.id: o for o in session.execute(select(Offender).where(Offender.id.in_(ids))).scalars()}
    views = [OffenderOnCase(link, offenders[link.offender_id], counts.get(link.offender_id, 0),
                            shown.get(link.offender_id, [])) for link in links]
    return sorted(views, key=lambda v: (v.link.state == DISMISSED, v.link.id))


def _cases_linked(viewer: User):
    """Ids of the cases the viewer may see."""
    return visible_cases(viewer).with_only_columns(Case.id)


@dataclass(frozen=True)
class OffenderRow:
    offender: Offender
    cases: int  #: all cases with an active link
    shown: int  #: of them, the ones the viewer may see


def offenders_for(session: Session, viewer: User, page: int = 1, per_page: int = 50
                  ) -> tuple[list[OffenderRow], int]:
    """The offenders the viewer may look up (HR: all; leader/AMR: linked to their unit's cases), paged."""
    if viewer.role not in OVERSIGHT_ROLES:
        raise NotFound("offenders")
    total_cases = (select(CaseOffender.offender_id, func.count(distinct(CaseOffender.case_id)).label("n"))
                   .where(CaseOffender.state.in_(ACTIVE)).group_by(CaseOffender.offender_id).subquery())
    seen = (select(CaseOffender.offender_id, func.count(distinct(CaseOffender.case_id)).label("n"))
            .where(CaseOffender.state.in_(ACTIVE), CaseOffender.case_id.in_(_cases_linked(viewer)))
            .group_by(CaseOffender.offender_id).subquery())
    q = (select(Offender, func.coalesce(total_cases.c.n, 0), func.coalesce(seen.c.n, 0))
         .outerjoin(total_cases, total_cases.c.offender_id == Offender.id)
         .outerjoin(seen, seen.c.offender_id == Offender.id))
    if viewer.role is not Role.hr:
        q = q.where(seen.c.n > 0)
    total = session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = session.execute(q.order_by(func.coalesce(total_cases.c.n, 0).desc(), Offender.handle, Offender.id)
                           .limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
    return [OffenderRow(o, n, s) for o, n, s in rows], total


@dataclass(frozen=True)
class OffenderDetail:
    offender: Offender
    cases: int  #: all cases with an active link
    shown: list[tuple[Case, CaseOffender]]  #: the links the viewer may see, newest case first


def offender_for(session: Session, viewer: User, offender_id: int) -> OffenderDetail:
    """One offender and the linked cases the viewer may see; NotFound if they may see none (HR: any).

    Logged as ``offender.view``.
    """
    if viewer.role not in OVERSIGHT_ROLES:
        raise NotFound(str(offender_id))
    offender = session.get(Offender, offender_id)
    if offender is None:
        raise NotFound(str(offender_id))
    shown = list(session.execute(
        visible_cases(viewer).join(CaseOffender, CaseOffender.case_id == Case.id)
        .where(CaseOffender.offender_id == offender.id, CaseOffender.state.in_(ACTIVE))
        .add_columns(CaseOffender).order_by(Case.created_at.desc())).all())
    if viewer.role is not Role.hr and not shown:
        raise NotFound(str(offender_id))
    cases = session.execute(select(func.count(distinct(CaseOffender.case_id))).where(
        CaseOffender.offender_id == offender.id, CaseOffender.state.in_(ACTIVE))).scalar_one()
    audit.record(session, viewer, "offender.view", "offender", offender.id, None, cases_shown=len(shown))
    return OffenderDetail(offender, cases, [(c, link) for c, link in shown])


@dataclass(frozen=True)
class OffenderList:
    rows: list[OffenderRow]
    total: int
    page: int
    pages: int


def list_offenders(session: Session, viewer: User, page: int = 1, per_page: int = 50) -> OffenderList:
    """One page of the offender list (``offenders_for``), logged as ``offender.list``; NotFound past the end."""
    rows, total = offenders_for(session, viewer, page=page, per_page=per_page)
    pages = max(1, -(-total // per_page))
    if page < 1 or page > pages:
        raise NotFound(f"offender page {page}")
    audit.record(session, viewer, "offender.list", "offender", "-", page=page, count=len(rows))
    return OffenderList(rows, total, page, pages)
