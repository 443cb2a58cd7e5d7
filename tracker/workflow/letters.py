"""Danish letters drafted from a case: templates are data, drafts are editable until marked sent.

The templates are ``tracker/workflow/rules/letters/<template id>.txt.j2`` (one per id in
``tracker.workflow.checklist.LETTERS``), plain-text Jinja that a municipality may edit. They are rendered in
a ``SandboxedEnvironment`` without autoescaping (the output is plain text); case data (descriptions,
URLs, names) only ever enters as *variables*, so text such as ``{{ 7*7 }}`` in a description is
printed literally and never evaluated. A template's output starts with ``Emne: <subject>`` and a
blank line; the rest is the body.

Who may do what (``can_write_letters`` / ``can_read_letters``):
  * the leader of the case's unit and HR draft, edit and mark letters sent;
  * the unit's AMR reads every letter of the case;
  * the employee the case is about reads the letters once they are sent (drafts are the leader's
    work in progress and may hold unchecked facts); a colleague who only reported the case does not;
  * everyone else (other units, admin) gets NotFound, as for the case itself.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Case, CaseStep, EvidenceState, Letter, Role, User
from storage.types import utcnow
from tracker.oversight import audit
from tracker.workflow.checklist import LETTERS
from tracker.errors import DomainError, NotFound
from tracker.accounts.permissions import can_view_case
from tracker.workflow.platforms import PlatformDirectory, load_platform_directory, platform_for_url
from tracker.workflow import redress
from tracker.workflow.rules import Rules, load_rules

TEMPLATE_DIR = Path(__file__).resolve().parent / "rules" / "letters"
SUFFIX = ".txt.j2"
CPH = ZoneInfo("Europe/Copenhagen")
PLACEHOLDER = "[UDFYLD"  #: text the leader must replace before the letter can be marked sent
MAX_SUBJECT = 300
MAX_BODY = 100_000
PLATFORM_NOTICE = "platform_notice"  #: the rung whose record the art. 20 / art. 21 letters cite
OUTCOMES_DA = {"removed": "fjernet", "restricted": "begrænset", "refused": "afvist", "no_answer": "intet svar",
               "partly_removed": "delvist fjernet"}
NO_NOTICE = {"sent_at": None, "channel": None, "reference": None, "receipt_at": None, "decided_at": None,
             "outcome": None, "outcome_da": "", "reasons": None}


@dataclass(frozen=True)
class Provision:
    """A criminal provision the leader may tick; ``text_da`` is the plain wording used in letters."""

    id: str
    ref_da: str
    text_da: str


#: current numbering (research/legal.md § 6); the leader ticks the ones that fit the post
PROVISIONS: tuple[Provision, ...] = (
    Provision("119", "straffeloven § 119, stk. 1",
              "vold eller trusler om vold mod en person i offentlig tjeneste på grund af tjenesten, "
              "også trusler fremsat offentligt eller med henblik på udbredelse"),
    Provision("119a", "straffeloven § 119 a",
              "chikane af en person i offentlig tjeneste på grund af tjenesten"),
    Provision("121", "straffeloven § 121",
              "hån, skældsord eller anden fornærmelig tiltale mod en person i offentlig tjeneste "
              "under eller i anledning af tjenesten"),
    Provision("242", "straffeloven § 242",
              "stalking: vedvarende og systematisk kontakt, forfølgelse eller chikane"),
    Provision("264d", "straffeloven § 264 d",
              "uberettiget videregivelse af meddelelser eller billeder om en andens private forhold"),
    Provision("266", "straffeloven § 266",
              "trussel om at begå en strafbar handling, der er egnet til at fremkalde alvorlig frygt "
              "for eget eller andres liv, helbred eller velfærd"),
    Provision("266b", "straffeloven § 266 b",
              "offentlige udtalelser, der truer, forhåner eller nedværdiger en gruppe af personer "
              "på grund af f.eks. race, hudfarve, national eller etnisk oprindelse, tro eller "
              "seksuel orientering"),
    Provision("267", "straffeloven § 267",
              "ærekrænkelse: udsagn eller handlinger, der er egnet til at krænke en persons ære "
              "eller at udsætte personen for andres ringeagt"),
    Provision("268", "straffeloven § 268",
              "grov ærekrænkelse: en grov sigtelse, der er usand, eller som er udbredt i et "
              "massemedie og egnet til at medføre betydelig skade"),
)
PROVISION_IDS = tuple(p.id for p in PROVISIONS)


class LetterTemplateError(DomainError):
    """A letter template file is missing or invalid; the message is one line naming the file."""

    def __init__(self, file: Path, problem: str):
        super().__init__("letter_template_invalid", " ".join(f"{file}: {problem}".split()))
        self.file = file


# -- permissions --------------------------------------------------------------------------------------
def can_write_letters(user: User, case: Case) -> bool:
    """The unit's leader and HR draft, edit and send letters."""
    return can_view_case(user, case) and user.role in (Role.leader, Role.hr)


def can_read_letter(user: User, case: Case, letter: Letter) -> bool:
    """Writers and the unit's AMR read every letter; the case's employee reads the sent ones."""
    if not can_view_case(user, case) or letter.case_id != case.id:
        return False
    if user.role in (Role.leader, Role.hr, Role.amr):
        return True
    return user.role is Role.employee and case.employee_id == user.id and letter.sent_at is not None


# -- templates ----------------------------------------------------------------------------------------
def dk_time(dt: datetime | None, with_seconds: bool = True) -> str:
    """``26.11.2026 kl. 14.05.09`` in Danish time; empty for None."""
    if dt is None:
        return ""
    return dt.astimezone(CPH).strftime("%d.%m.%Y kl. %H.%M.%S" if with_seconds else "%d.%m.%Y kl. %H.%M")


def utc_time(dt: datetime | None) -> str:
    """``2026-11-26 13:05:09 UTC``; empty for None."""
    if dt is None:
        return ""
    return dt.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S UTC")


@lru_cache(maxsize=8)
def _environment(*directories: Path) -> SandboxedEnvironment:
    """A sandboxed environment that finds each template in the first of ``directories`` that has it."""
    env = SandboxedEnvironment(loader=FileSystemLoader([str(d) for d in directories], encoding="utf-8"), autoescape=False,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=True, auto_reload=True)
    env.filters["dk_time"] = dk_time
    env.filters["utc_time"] = utc_time
    return env


def template_path(template_id: str, directory: Path | None = None) -> Path:
    return (directory or TEMPLATE_DIR) / f"{template_id}{SUFFIX}"


def check_templates(directory: Path | str | None = None) -> tuple[str, ...]:
    """Every letter id has a template that parses; returns the ids. Raises LetterTemplateError (one line)."""
    directory = Path(directory) if directory is not None else TEMPLATE_DIR
    env = _environment(directory)
    for template_id in LETTERS:
        path = template_path(template_id, directory)
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise LetterTemplateError(path, f"cannot read the letter template: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:  # e.g. saved by hand as Windows-1252
            raise LetterTemplateError(path, f"not UTF-8 text (byte {exc.start})") from None
        try:
            env.parse(source)
        except TemplateError as exc:
            raise LetterTemplateError(path, f"not a valid template (line {getattr(exc, 'lineno', '?')}): {exc}") from None
    return LETTERS


def render(template_id: str, context: dict[str, Any], directory: Path | None = None,
           local_dir: Path | None = None) -> tuple[str, str]:
    """(subject, body) of the template rendered with ``context``; LetterTemplateError if it fails.

    A template in ``local_dir`` (the municipality's own copy, saved on the admin pages) wins over the shipped one.
    """
    if template_id not in LETTERS:
        raise DomainError("unknown_letter", f"no letter template {template_id!r}", "template_id")
    directory = directory or TEMPLATE_DIR
    path = template_path(template_id, directory)
    search = (directory,)
    if local_dir is not None and local_dir.is_dir():  # includes (the signature) may be local copies too
        search = (local_dir, directory)
        if template_path(template_id, local_dir).is_file():
            path = template_path(template_id, local_dir)
    try:
        text = _environment(*search).get_template(path.name).render(**context)
    except TemplateError as exc:
        raise LetterTemplateError(path, f"rendering failed: {exc}") from None
    except UnicodeDecodeError as exc:  # a local copy saved by hand as e.g. Windows-1252 (or an include of it)
        raise LetterTemplateError(path, f"not UTF-8 text (byte {exc.start})") from None
    first, _, rest = text.lstrip("\n").partition("\n")
    if not first.startswith("Emne:"):
        raise LetterTemplateError(path, "the output must start with a line 'Emne: <subject>'")
    return first.removeprefix("Emne:").strip()[:MAX_SUBJECT], rest.lstrip("\n").rstrip() + "\n"


@lru_cache(maxsize=1)
def _rules() -> Rules:
    return load_rules()


@lru_cache(maxsize=1)
def _platforms() -> PlatformDirectory:
    return load_platform_directory()


def notice_of(session: Session, case: Case) -> dict[str, Any]:
    """The platform notice's record for the letters that follow it (art. 20 complaint, art. 21 filing)."""
    row = session.execute(select(CaseStep).where(CaseStep.case_id == case.id,
                                                 CaseStep.step_id == PLATFORM_NOTICE)).scalar()
    if row is None:
        return dict(NO_NOTICE)
    return {"sent_at": row.sent_at, "channel": row.channel, "reference": row.platform_ref,
            "receipt_at": row.receipt_at, "decided_at": row.decided_at, "outcome": row.outcome,
            "outcome_da": OUTCOMES_DA.get(row.outcome or "", ""), "reasons": row.statement_of_reasons}


def build_context(case: Case, sender: User, *, provisions: Iterable[str] = (),
                  platforms: PlatformDirectory | None = None, now: datetime | None = None,
                  notice: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the templates see: plain values from the case (never template source)."""
    platforms = platforms or _platforms()
    ticked = set(provisions)
    unknown = ticked - set(PROVISION_IDS)
    if unknown:
        raise DomainError("unknown_provision", f"unknown provision {sorted(unknown)[0]!r}", "provisions")
    evidence = []
    for ev in case.evidence:
        done = ev.state is EvidenceState.done
        evidence.append({
            "number": len(evidence) + 1,
            "kind": ev.kind,
            "url": ev.source_url,
            "filename": ev.original_filename,
            "done": done,
            "state": ev.state.value,
            "capture_status": ev.capture_status,
            "captured_at": ev.finished_at if done else None,
            "fingerprint": ev.fingerprint,
            "timestamp_at": ev.timestamp_gen_time,
            "timestamp_error": ev.timestamp_error,
            "artifacts": [{"name": a.name, "sha256": a.sha256, "role": a.role, "size": a.size}
                          for a in ev.artifacts],
        })
    groups: dict[str, dict[str, Any]] = {}
    for item in evidence:
        if item["kind"] != "url" or not item["url"]:
            continue
        platform = platform_for_url(item["url"], platforms)
        group = groups.setdefault(platform.id, {
            "name": platform.name, "fallback": platform.fallback, "channels": platform.channels(),
            "notes": platform.notes_da, "urls": [], "evidence": [],
            "bodies": [b.model_dump() for b in redress.shipped().bodies_for(platform.id)]})
        if item["url"] not in group["urls"]:
            group["urls"].append(item["url"])
        group["evidence"].append(item)
    return {
        "case": {"ref": case.ref, "description": case.description or "", "episode_at": case.episode_at,
                 "created_at": case.created_at, "author_known": case.author_known,
                 "private_information_disclosed": case.private_information_disclosed,
                 "defamatory": case.defamatory},
        "employee": {"name": case.employee.name, "email": case.employee.email},
        "unit": case.unit.name,
        "sender": {"name": sender.name, "email": sender.email, "unit": sender.unit.name if sender.unit else ""},
        "evidence": evidence,
        "urls": [u for g in groups.values() for u in g["urls"]],
        "platforms": list(groups.values()),
        "provisions": [p for p in PROVISIONS if p.id in ticked],
        "today": now or utcnow(),
        "notice": notice if notice is not None else dict(NO_NOTICE),
    }


# -- operations (flush only; the caller owns the transaction) ----------------------------------------
def body_sha256(body: str) -> str:
    """The SHA-256 of the body's UTF-8 bytes: what is recorded at send and what the download contains."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def normalize_text(text: str) -> str:
    """Line ends as ``\\n`` (browsers send ``\\r\\n``), exactly one newline at the end."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip() + "\n"


def letters_for(session: Session, user: User, case: Case) -> list[Letter]:
    """The case's letters ``user`` may read, oldest first."""
    rows = session.execute(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id)).scalars()
    return [letter for letter in rows if can_read_letter(user, case, letter)]


def get_letter_for(session: Session, user: User, case: Case, letter_id: int) -> Letter:
    """The letter if it belongs to ``case`` and ``user`` may read it; NotFound otherwise (same for both)."""
    letter = session.get(Letter, letter_id)
    if letter is None or not can_read_letter(user, case, letter):
        raise NotFound(letter_id)
    return letter


def _require_writer(user: User, case: Case) -> None:
    if not can_view_case(user, case):
        raise NotFound(case.ref)
    if not can_write_letters(user, case):
        raise DomainError("not_allowed", "only the unit's leader and HR draft and send letters")


def create_letter(session: Session, actor: User, case: Case, template_id: str, *, step_id: str | None = None,
                  provisions: Iterable[str] = (), platforms: PlatformDirectory | None = None,
                  rules: Rules | None = None, local_dir: Path | None = None) -> Letter:
    """Draft the letter ``template_id`` from the case, with ``actor`` as sender/notifier.

    ``step_id``, if given, must be a step in ``rules`` (default: the shipped rules) that offers this letter.
    """
    _require_writer(actor, case)
    if step_id is not None:
        step = next((s for s in (rules or _rules()).steps if s.id == step_id), None)
        if step is None or step.letter != template_id:
            raise DomainError("step_letter_mismatch", f"step {step_id!r} does not use letter {template_id!r}", "step")
    provisions = tuple(provisions)
    subject, body = render(template_id, build_context(case, actor, provisions=provisions, platforms=platforms,
                                                      notice=notice_of(session, case)), local_dir=local_dir)
    now = utcnow()
    letter = Letter(case_id=case.id, step_id=step_id, template_id=template_id, subject=subject, body=body,
                    created_by_id=actor.id, created_at=now, updated_at=now)
    session.add(letter)
    session.flush()
    audit.record(session, actor, "letter.create", "letter", letter.id, case.id, template=template_id,
                 step=step_id, provisions=list(provisions) or None, sha256=body_sha256(body))
    return letter


def update_letter(session: Session, actor: User, case: Case, letter: Letter, *, subject: str, body: str,
                  expected_sha256: str | None = None) -> Letter:
    """Change an unsent draft. DomainError ``letter_sent`` once sent, ``letter_changed`` if someone else saved first."""
    _require_writer(actor, case)
    if letter.sent_at is not None:
        raise DomainError("letter_sent", "the letter is marked sent and can no longer be changed")
    if expected_sha256 and expected_sha256 != body_sha256(letter.body):
        raise DomainError("letter_changed", "the letter was changed by someone else since you opened it")
    subject = " ".join((subject or "").split())
    body = normalize_text(body or "")
    if not body.strip():
        raise DomainError("body_empty", "the letter is empty", "body")
    if len(subject) > MAX_SUBJECT:
        raise DomainError("subject_too_long", f"the subject is longer than {MAX_SUBJECT} characters", "subject")
    if len(body) > MAX_BODY:
        raise DomainError("body_too_long", f"the letter is longer than {MAX_BODY} characters", "body")
    before = body_sha256(letter.body)
    letter.subject, letter.body, letter.updated_at = subject, body, utcnow()
    session.flush()
    audit.record(session, actor, "letter.update", "letter", letter.id, case.id,
                 sha256_before=before, sha256=body_sha256(body))
    return letter


def mark_sent(session: Session, actor: User, case: Case, letter: Letter) -> Letter:
    """Freeze the letter: record who, when and the SHA-256 of the body. DomainError if sent or unfinished."""
    _require_writer(actor, case)
    if letter.sent_at is not None:
        raise DomainError("letter_sent", "the letter is already marked sent")
    if PLACEHOLDER in letter.body or PLACEHOLDER in letter.subject:
        raise DomainError("letter_unfinished", "the letter still has [UDFYLD: …] placeholders", "body")
    letter.sent_at, letter.sent_by_id = utcnow(), actor.id
    letter.sha256_at_send = body_sha256(letter.body)
    session.flush()
    audit.record(session, actor, "letter.sent", "letter", letter.id, case.id, template=letter.template_id,
                 sha256=letter.sha256_at_send)
    return letter


def record_view(session: Session, actor: User, case: Case, letter: Letter) -> None:
    audit.record(session, actor, "letter.view", "letter", letter.id, case.id)


def record_download(session: Session, actor: User, case: Case, letter: Letter) -> None:
    audit.record(session, actor, "letter.download", "letter", letter.id, case.id, sha256=body_sha256(letter.body),
                 sent=letter.sent_at is not None)
