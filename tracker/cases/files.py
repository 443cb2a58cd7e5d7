"""Reading a case's stored files for a person: evidence artifacts, step attachments, the case list.

One function per access, used by the pages and the API alike: it finds the file among what the user
may see, reads it from the blob store (which checks its SHA-256) and writes the audit event — a view
when it is shown inline, a download otherwise. A file whose bytes no longer match is audited as
``artifact.integrity_error`` and raised as ``BrokenFile``; the caller answers 500 but must keep that
event (``webui.db.abort_keeping``). Access to the case itself is the caller's (``get_case_for``).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.blobs import BlobError, EvidenceStore
from storage.models import Artifact, Case, CaseStep, Evidence, StepAttachment, User
from tracker.cases.register import list_cases_for
from tracker.errors import NotFound
from tracker.oversight import audit


class BrokenFile(Exception):
    """The stored bytes do not match their SHA-256 (or are gone); the event is already recorded."""


@dataclass(frozen=True)
class OpenedArtifact:
    evidence: Evidence
    artifact: Artifact
    data: bytes
    inline: bool


@dataclass(frozen=True)
class OpenedAttachment:
    attachment: StepAttachment
    data: bytes
    inline: bool


def list_cases(session: Session, user: User, status: str | None = None, **details: Any) -> list[Case]:
    """The cases ``user`` may see (only ``open`` or ``closed`` ones if asked), audited as one ``case.list``."""
    rows = list_cases_for(session, user)
    if status:
        rows = [c for c in rows if c.status == status]
    audit.record(session, user, "case.list", "case", "-", count=len(rows), status=status or None, **details)
    return rows


def open_artifact(session: Session, blobs: EvidenceStore, user: User, case: Case, evidence_id: int, name: str, *,
                  inline_types: Collection[str] = (), thumbnail: bool = False, **details: Any) -> OpenedArtifact:
    """File ``name`` of evidence ``evidence_id`` of ``case``, read and audited; NotFound if there is none."""
    ev = next((e for e in case.evidence if e.id == evidence_id), None)
    art = next((a for a in ev.artifacts if a.name == name), None) if ev is not None else None
    if ev is None or art is None:
        raise NotFound(f"{evidence_id}/{name}")
    try:
        data = blobs.read(art.sha256)
    except BlobError as exc:
        audit.record(session, user, "artifact.integrity_error", "artifact", art.sha256, case.id,
                     name=name, error=str(exc), **{k: v for k, v in details.items() if k == "via"})
        raise BrokenFile(str(exc)) from None
    inline = art.media_type in inline_types
    audit.record(session, user, "artifact.view" if inline else "artifact.download", "artifact", art.sha256, case.id,
                 evidence=ev.id, name=name, thumbnail=True if thumbnail and inline else None, **details)
    return OpenedArtifact(ev, art, data, inline)


def open_step_attachment(session: Session, blobs: EvidenceStore, user: User, case: Case, attachment_id: int, *,
                         inline_types: Collection[str] = (), **details: Any) -> OpenedAttachment:
    """An uploaded step attachment of ``case``, read and audited; NotFound if there is none (or it is a
    link to evidence, which has no file of its own)."""
    att = session.execute(select(StepAttachment).join(CaseStep, CaseStep.id == StepAttachment.case_step_id)
                          .where(StepAttachment.id == attachment_id, CaseStep.case_id == case.id)).scalar()
    if att is None or att.sha256 is None:
        raise NotFound(str(attachment_id))
    try:
        data = blobs.read(att.sha256)
    except BlobError as exc:
        audit.record(session, user, "artifact.integrity_error", "step_attachment", att.id, case.id, error=str(exc))
        raise BrokenFile(str(exc)) from None
    inline = att.media_type in inline_types
    audit.record(session, user, "attachment.view" if inline else "attachment.download", "step_attachment", att.id,
                 case.id, step_id=att.step.step_id, sha256=att.sha256, **details)
    return OpenedAttachment(att, data, inline)
