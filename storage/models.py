"""The database schema as typed SQLAlchemy 2.0 models. Alembic owns the schema (storage/migrations).

Long because it is the whole schema: every table and relation in one file, read next to the migrations
(each declaration is short; splitting by domain would scatter the foreign keys across files).
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class Role(str, enum.Enum):
    employee = "employee"
    leader = "leader"
    hr = "hr"
    amr = "amr"
    admin = "admin"


class EvidenceState(str, enum.Enum):
    """Where the job stands; what the capture found is ``Evidence.capture_status``."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    refused = "refused"


class OrgUnit(Base):
    __tablename__ = "org_units"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  #: stored lower-case
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", native_enum=False, length=20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"))
    password_hash: Mapped[str] = mapped_column(String(200))  #: argon2id
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str | None] = mapped_column(String(5))  #: preferred UI language; None: the default
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: raised on logout, password change or reset, deactivation, role or unit change: every login session
    #: carries the value it started with and ends when it no longer matches
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: wrong passwords given for this e-mail since the last successful login (told at the next login)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: single sign-on (tracker/accounts/sso.py): the provider and its subject; such a user has no password
    oidc_issuer: Mapped[str | None] = mapped_column(String(500))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    unit: Mapped[OrgUnit | None] = relationship()
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_users_oidc_identity"),)


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)  #: human reference, e.g. V-2026-00042
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)  #: the person harassed
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: when the post was made / the offence happened (starts the 72-hour clock); None: unknown
    episode_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  #: open | closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: digital_threat | digital_bullying | digital_harassment (DOMAIN.md "Definitions"); None: not assessed
    category: Mapped[str | None] = mapped_column(String(30), index=True)
    platform: Mapped[str | None] = mapped_column(String(40), index=True)  #: id in tracker/workflow/rules/platforms.toml
    #: what the employee met: url (content online) or phone_call, letter, in_person, email, sms, other
    #: (tracker/cases/statement.py KINDS); the takedown ladder applies where content is online
    kind: Mapped[str] = mapped_column(String(20), default="url", server_default="url")
    #: facts the checklist's preconditions read (None: not assessed yet)
    author_known: Mapped[bool | None] = mapped_column(Boolean)
    private_information_disclosed: Mapped[bool | None] = mapped_column(Boolean)
    defamatory: Mapped[bool | None] = mapped_column(Boolean)
    #: legal hold (issue 16): while set, nothing of the case is erased; None: not held
    hold_reason: Mapped[str | None] = mapped_column(Text)
    hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: when the retention run erased the case's content, leaving this row as its anonymous tombstone
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_rule: Mapped[str | None] = mapped_column(String(60))  #: the id in tracker/workflow/rules/retention.toml

    unit: Mapped[OrgUnit] = relationship()
    employee: Mapped[User] = relationship(foreign_keys=[employee_id])
    reported_by: Mapped[User] = relationship(foreign_keys=[reported_by_id])
    evidence: Mapped[list["Evidence"]] = relationship(back_populates="case", order_by="Evidence.id")
    #: a unit's open or closed cases (on SQLite in id order, the rowid follows): the side HR's search walks
    #: when the filters are narrower than the words (tracker/oversight/search.py)
    __table_args__ = (Index("ix_cases_unit_status", "unit_id", "status"),)


class Evidence(Base):
    """One capture attempt of a URL or one upload, and once done its sealed bundle."""

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  #: url | upload | statement (the employee's statement)
    source_url: Mapped[str | None] = mapped_column(Text)
    original_filename: Mapped[str | None] = mapped_column(String(255))
    upload_sha256: Mapped[str | None] = mapped_column(String(64))  #: the uploaded bytes, stored before the job runs
    state: Mapped[EvidenceState] = mapped_column(
        Enum(EvidenceState, name="evidence_state", native_enum=False, length=20), default=EvidenceState.queued)
    capture_status: Mapped[str | None] = mapped_column(String(32))  #: capture/judge.py STATUSES (docs/capture-contract.md)
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)  #: SHA-256 of manifest.json
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    timestamp_sha256: Mapped[str | None] = mapped_column(String(64))  #: manifest.tsr blob
    timestamp_gen_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timestamp_error: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)  #: why the attempt failed or was refused
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: a worker that claims the job holds it until then; past it, the job is claimed again (worker died)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    worker: Mapped[str | None] = mapped_column(String(200))  #: host:pid of the last worker that claimed it
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: copied from the sealed manifest when the bundle is stored, so oversight queries need no blob reads
    author_handle: Mapped[str | None] = mapped_column(String(200))
    author_profile_url: Mapped[str | None] = mapped_column(Text)
    hash_basis: Mapped[str | None] = mapped_column(String(40))  #: artifact role the perceptual hashes were taken of
    phash: Mapped[str | None] = mapped_column(String(16))  #: 64-bit pHash, 16 hex digits
    dhash: Mapped[str | None] = mapped_column(String(16))
    text_sha256: Mapped[str | None] = mapped_column(String(64), index=True)  #: of the normalised post text

    case: Mapped[Case] = relationship(back_populates="evidence")
    artifacts: Mapped[list["Artifact"]] = relationship(back_populates="evidence", order_by="Artifact.id")


class Artifact(Base):
    """One file of a sealed bundle; its bytes live in the blob store under ``sha256``."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("evidence_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(40))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)

    evidence: Mapped[Evidence] = relationship(back_populates="artifacts")


class AuditEvent(Base):
    """Append-only, hash-chained: ``hash`` = SHA-256 over ``prev_hash`` and this event's fields."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_case_at", "case_id", "id"), Index("ix_audit_actor_id", "actor_id", "id"),
                      Index("ix_audit_action_id", "action", "id"), Index("ix_audit_at", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))  #: None: the system
    action: Mapped[str] = mapped_column(String(60))  #: e.g. case.create, case.view, artifact.download
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: SHA-256 of the details' canonical JSON; set on events since migration 0009, whose ``hash`` covers this
    #: digest instead of the details themselves, so retention can erase the details (tracker.oversight.audit)
    details_sha256: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class CaseCounter(Base):
    """Per-year sequence for case references; one row per year, bumped under a row lock."""

    __tablename__ = "case_counters"
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


# -- leader workflow ------------------------------------------------------------------------------
class StepState(str, enum.Enum):
    todo = "todo"
    in_progress = "in_progress"
    done = "done"
    skipped = "skipped"  #: needs a reason
    not_applicable = "not_applicable"


class CaseStep(Base):
    """The state of one checklist step or ladder rung (defined in tracker/workflow/rules/response.toml) on a case."""

    __tablename__ = "case_steps"
    __table_args__ = (UniqueConstraint("case_id", "step_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    step_id: Mapped[str] = mapped_column(String(60))  #: the rule's stable id
    state: Mapped[StepState] = mapped_column(
        Enum(StepState, name="step_state", native_enum=False, length=20), default=StepState.todo)
    reason: Mapped[str | None] = mapped_column(Text)  #: why skipped / not applicable
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: when it was done (may be back-dated by the leader)
    # ladder rungs
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(200))  #: e.g. the platform's DSA form, e-mail, letter
    platform_ref: Mapped[str | None] = mapped_column(String(200))  #: the platform's reference number
    outcome: Mapped[str | None] = mapped_column(String(20))  #: removed | restricted | refused | no_answer | partly_removed
    statement_of_reasons: Mapped[str | None] = mapped_column(Text)  #: the platform's DSA art. 17 statement
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: the other side confirmed receipt (DSA art. 16(4))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: the other side told its decision (art. 16(5))
    verified_by_evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"))

    attachments: Mapped[list["StepAttachment"]] = relationship(back_populates="step", order_by="StepAttachment.id")


class StepAttachment(Base):
    """Evidence or an uploaded reply attached to a step; uploaded bytes live in the blob store."""

    __tablename__ = "step_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_step_id: Mapped[int] = mapped_column(ForeignKey("case_steps.id", ondelete="RESTRICT"), index=True)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"))
    sha256: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    step: Mapped[CaseStep] = relationship(back_populates="attachments")


class CaseClock(Base):
    """A moment a deadline counts from, other than the episode: absence start, injunction granted, ..."""

    __tablename__ = "case_clocks"
    __table_args__ = (UniqueConstraint("case_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(60))  #: a ``starts_at`` name from tracker/workflow/rules/deadlines.toml
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Letter(Base):
    """A Danish letter drafted from the case; editable until it is marked sent, then frozen."""

    __tablename__ = "letters"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    step_id: Mapped[str | None] = mapped_column(String(60))
    template_id: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    sha256_at_send: Mapped[str | None] = mapped_column(String(64))  #: of the body as sent


class Recheck(Base):
    """One re-capture of a URL whose takedown is open, compared with the original capture."""

    __tablename__ = "rechecks"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    baseline_evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"), index=True)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"))  #: the re-capture
    #: still_online | changed | removed_pending | removed | unreachable | uncertain (a leader decides those)
    verdict: Mapped[str | None] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(40))  #: why, as a stable code (tracker.workflow.recheck.REASONS)
    reason: Mapped[str | None] = mapped_column(Text)  #: why, in English words (the page shows it in Danish)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the leader who decided an uncertain re-check; None when Værn's rules decided
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: None: tokens made before expiry existed


class LoginThrottle(Base):
    """Failed logins of one (account, client address) or one client address, for growing delays.

    ``key`` is a SHA-256 of what is counted (no e-mail or address is stored in the clear here).
    """

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationSent(Base):
    """One e-mail sent; ``key`` makes each notification go out once (e.g. deadline:<case>:<rule>:24h:<user>)."""

    __tablename__ = "notifications_sent"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(40))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- oversight ------------------------------------------------------------------------------------
class OffenderKind(str, enum.Enum):
    """The guideline's offender types (DOMAIN.md "Offender types")."""

    grieving_relative = "grieving_relative"  #: den sørgende slægtning
    aggrieved_citizen = "aggrieved_citizen"  #: den forurettede borger
    professional_querulant = "professional_querulant"  #: den professionelle kværulant
    unknown = "unknown"


class Offender(Base):
    """A person (account) behind posts, recognised across cases by platform + normalised handle."""

    __tablename__ = "offenders"
    __table_args__ = (UniqueConstraint("platform", "handle"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(40))  #: id in tracker/workflow/rules/platforms.toml, or "generic"
    handle: Mapped[str] = mapped_column(String(200), index=True)  #: normalised: lower-case, no leading @
    profile_url: Mapped[str | None] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(String(200), index=True)
    kind: Mapped[OffenderKind] = mapped_column(
        Enum(OffenderKind, name="offender_kind", native_enum=False, length=30), default=OffenderKind.unknown)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))  #: None: suggested by the system
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when the retention run erased its handle, profile, name and note (platform and kind stay for statistics)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_rule: Mapped[str | None] = mapped_column(String(60))


class CaseOffender(Base):
    """Links an offender to a case: suggested from a capture's author, then confirmed or dismissed by a person."""

    __tablename__ = "case_offenders"
    __table_args__ = (UniqueConstraint("case_id", "offender_id"),
                      #: HR's offender search: offender ids → not-dismissed case ids from the index alone
                      Index("ix_case_offenders_offender_state_case", "offender_id", "state", "case_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    offender_id: Mapped[int] = mapped_column(ForeignKey("offenders.id", ondelete="RESTRICT"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="suggested")  #: suggested | confirmed | dismissed
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"))  #: the capture it came from
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    offender: Mapped[Offender] = relationship()


class CaseText(Base):
    """The searchable text of a case: its description and every capture's visible text (HR free-text search)."""

    __tablename__ = "case_texts"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExportJob(Base):
    """A case package or PDF report being built by a job (never in a web request), then downloaded.

    ``kind``: package | case_report | evidence_report. ``state``: queued | running | done | failed |
    expired (the file was removed after its keeping time). ``step`` names where the build is, for the
    progress the case page shows. The file lives under the data directory's ``exports/`` until expiry.
    """

    __tablename__ = "export_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    via: Mapped[str] = mapped_column(String(10))  #: web | api
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    step: Mapped[str | None] = mapped_column(String(20))  #: queued, building, saving, done
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    file_name: Mapped[str | None] = mapped_column(String(200))  #: under <data dir>/exports/<id>/
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    files: Mapped[int | None] = mapped_column(Integer)  #: entries in a package
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: first handed out via the old download URL


class CaptureProfile(Base):
    """A platform account the municipality runs for captures behind a login (issue 14): its Playwright
    storage state, encrypted (tracker/accounts/profiles.py), used for captures of URLs on its hosts.

    ``status``: active | logged_out (a capture with it met a login wall; not used until imported again).
    """

    __tablename__ = "capture_profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    account: Mapped[str] = mapped_column(String(200), default="")  #: who the account is (shown in reports)
    hosts: Mapped[list[str]] = mapped_column(JSON, default=list)  #: ["host" | "host:port", ...], lower-case
    #: Fernet token over the storage-state JSON; never logged, exported or shown
    state_encrypted: Mapped[str] = mapped_column(Text)
    cookies: Mapped[int] = mapped_column(Integer, default=0)  #: how many cookies the state holds (for the list)
    status: Mapped[str] = mapped_column(String(20), default="active")
    logged_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the capture that met the login wall (the case page of its case says so)
    logged_out_evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BlobVersion(Base):
    """The one object version of an evidence blob in S3 that Værn wrote and reads (storage.s3blobs).

    Content-addressed: a SHA-256 names one object, so the version is recorded once per blob, before
    any row (artifact, upload, attachment) points at that SHA-256. Unused with the local store.
    """

    __tablename__ = "blob_versions"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[str] = mapped_column(String(1024))  #: S3 VersionId of the object written at ``stored_at``
    size: Mapped[int] = mapped_column(BigInteger)
    lock_mode: Mapped[str | None] = mapped_column(String(20))  #: COMPLIANCE or GOVERNANCE, as set at write
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: object-lock retention set at write
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
