"""Checklist steps and ladder rungs through the API: state, outcome and times in one call, a verified
removal, and step attachments (evidence of the case, or an uploaded reply) with their download.

One request may touch both halves of a step: the rung's fields go to ``tracker.workflow.steps.record_rung``
and the state's to ``set_state`` — the functions the case page's two forms call — in one transaction.
"""
from __future__ import annotations

from typing import Any

from flask import Response, request, url_for
from werkzeug.utils import secure_filename

from storage.blobs import BlobError
from capture.upload import EML, HEIC, JPEG, PDF, PNG, WEBP
from storage.models import CaseStep, StepState
from tracker.cases.casefile import step_overview
from tracker.errors import DomainError
from tracker.oversight import audit
from tracker.workflow import steps as ops
from webui.api.cases import attachment_data, attachments_of
from webui.api.core import (ApiError, Field, answer, body, case_or_404, keep_records, not_found, operation, rules,
                            run, user, via)
from webui.db import db, runtime

STEPS = "Steps"
CHANGERS = ("the unit's leader and HR; the unit's AMR for the steps whose actor is amr (others who see the "
            "case: 403 not_allowed)")
RUNG_FIELDS = ("sent_at", "outcome", "reference", "channel", "statement_of_reasons", "receipt_at", "decided_at")
STATE_FIELDS = ("state", "reason", "note", "decided_at")
#: the attachment download's extension comes from the sniffed type, never from the uploader's name
EXTENSIONS = {k.media_type: k.ext for k in (PNG, JPEG, WEBP, HEIC, PDF, EML)}


def _step_or_404(step_id: str, ladder: bool = False):
    try:
        step = rules().step(step_id)
    except DomainError:
        raise not_found() from None
    if ladder and step.kind != "ladder":
        raise not_found()
    return step


def _step_answer(s, case, step) -> Response:
    rows = ops.step_rows(s, case)
    data = step_overview(step, rows.get(step.id), ops.case_facts(case, rows))
    data["attachments"] = [attachment_data(case, a) for a in attachments_of(s, case) if a.step.step_id == step.id]
    return answer(data)


@operation("POST", "/cases/<ref>/steps/<step_id>", tag=STEPS, summary="Change a step or ladder rung",
           response="Step", who=CHANGERS, errors=(400, 403, 404),
           body={"state": Field("string", "the step's state", choices=tuple(s.value for s in StepState)),
                 "reason": Field("string", "why (required for skipped and not_applicable)", nullable=True),
                 "note": Field("string", "the step's note (absent: kept)", nullable=True),
                 "decided_at": Field("time", "when the step was done (default: now; may be back-dated); on a "
                                     "rung with a decision (an outcome other than no_answer) also when the other "
                                     "side told it (starts the DSA art. 20 clock on the platform notice)", nullable=True),
                 "receipt_at": Field("time", "a rung: when the other side confirmed receipt (DSA art. 16(4))",
                                     nullable=True),
                 "sent_at": Field("time", "a rung: when the request was sent", nullable=True),
                 "outcome": Field("string", "a rung: the other side's answer (null while waiting); the "
                                  f"police_report step: {ops.DECLINED!r} (with the note)",
                                  choices=(*ops.RUNG_OUTCOMES, ops.DECLINED), nullable=True),
                 "reference": Field("string", "a rung: the platform's or other side's reference", nullable=True),
                 "channel": Field("string", "a rung: how it was sent (e-mail, web form …)", nullable=True),
                 "statement_of_reasons": Field("string", "a rung: the platform's statement of reasons",
                                               nullable=True)})
def update_step(ref: str, step_id: str):
    """Absent fields keep their value. A rung's fields record the rung (sent: in progress; an outcome: done);
    ``state``, ``reason``, ``note`` and ``decided_at`` then set the state. ``outcome`` ``declined`` on the
    police-report step records that the employee does not want a report (``note`` required) and closes its
    72-hour clock. 400 nothing_to_change for an empty body."""
    b = body()
    case = case_or_404(ref)
    step, r = _step_or_404(step_id), rules()

    def change(s) -> None:
        if not b:
            raise DomainError("nothing_to_change", "send at least one field", None)
        if step.id == ops.POLICE_REPORT and b.get("outcome") == ops.DECLINED:
            ops.decline_police_report(s, case, user(), b.get("note") or "", rules=r)
            return
        row: CaseStep | None = ops.step_rows(s, case).get(step.id)

        def keep(name: str, attr: str) -> Any:
            return b[name] if name in b else (getattr(row, attr) if row is not None else None)

        times = {"receipt_at": b["receipt_at"]} if "receipt_at" in b else {}
        outcome = b["outcome"] if "outcome" in b else (row.outcome if row is not None else None)
        if step.kind == "ladder" and "decided_at" in b and outcome not in (None, "no_answer"):
            times["decided_at"] = b["decided_at"]  # the other side's decision (without one: only the done time)
        if (set(RUNG_FIELDS) - {"decided_at"}) & b.keys() or times:
            ops.record_rung(s, case, step.id, user(), keep("sent_at", "sent_at"), keep("channel", "channel"),
                            keep("reference", "platform_ref"), keep("outcome", "outcome"),
                            keep("statement_of_reasons", "statement_of_reasons"), rules=r, **times)
            row = ops.step_rows(s, case)[step.id]
        if set(STATE_FIELDS) & b.keys():
            state = b.get("state") or (row.state.value if row is not None else StepState.todo.value)
            ops.set_state(s, case, step.id, state, user(), reason=keep("reason", "reason"), note=b.get("note"),
                          done_at=b.get("decided_at") or (row.done_at if row is not None and "state" not in b
                                                          else None), rules=r)

    run(change)
    return _step_answer(db(), case, step)


@operation("POST", "/cases/<ref>/steps/<step_id>/removed-verified", tag=STEPS, response="Step",
           summary="Mark a rung removed, verified by a re-capture", who="the unit's leader (others: 403)",
           body={"evidence_id": Field("integer", "the re-capture that shows the removal", required=True)},
           errors=(400, 403, 404))
def removed_verified(ref: str, step_id: str):
    """The rung is then done. 400 not_verified if that capture does not confirm a removal on this case."""
    evidence_id = body().get("evidence_id")
    case = case_or_404(ref)
    step = _step_or_404(step_id, ladder=True)
    run(lambda s: ops.record_verified_removal(s, case, step.id, evidence_id, user(), rules=rules()))
    return _step_answer(db(), case, step)


@operation("POST", "/cases/<ref>/steps/<step_id>/attachments", tag=STEPS, summary="Attach evidence to a step",
           ok=201, response="Attachment", who=CHANGERS, errors=(400, 403, 404),
           body={"evidence_id": Field("integer", "evidence of this case", required=True)})
def attach_evidence(ref: str, step_id: str):
    """Attaching the same evidence again returns the first attachment. 400 unknown_evidence."""
    evidence_id = body().get("evidence_id")
    case = case_or_404(ref)
    step = _step_or_404(step_id)
    att = run(lambda s: ops.attach_evidence(s, case, step.id, evidence_id, user(), rules=rules()))
    return answer(attachment_data(case, att), 201)


@operation("POST", "/cases/<ref>/steps/<step_id>/attachments/upload", tag=STEPS, upload=True, ok=201,
           summary="Attach an uploaded file to a step", response="Attachment", who=CHANGERS,
           errors=(400, 403, 404, 413, 415))
def attach_upload(ref: str, step_id: str):
    """``multipart/form-data`` with ``file``: a picture (PNG, JPEG, WebP, HEIC), a PDF or an .eml, e.g. the
    platform's reply; the type is read from the bytes. 400 empty, too_large, unsupported_type, file_missing."""
    case = case_or_404(ref)
    step = _step_or_404(step_id)
    limit = runtime().settings.upload_max_bytes
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "send the file as multipart/form-data with the field 'file'")
    request.max_content_length = limit + 64 * 1024  # the form's own lines around the file
    file = request.files.get("file")

    def attach(s):
        if file is None or not file.filename:
            raise DomainError("file_missing", "no file in the field 'file'", "file")
        return ops.attach_upload(s, runtime().blobs, case, step.id, user(), file.read(), file.filename,
                                 max_bytes=limit, rules=rules())
    att = run(attach)
    return answer(attachment_data(case, att), 201, url_for("api.attachment", ref=case.ref, attachment_id=att.id))


@operation("GET", "/cases/<ref>/attachments/<int:attachment_id>", tag=STEPS, summary="Download a step attachment",
           response=None, media_type="application/octet-stream", errors=(404, 500),
           who="whoever may see the case")
def attachment(ref: str, attachment_id: int):
    """An uploaded step attachment, always as a download (never rendered); audited."""
    case = case_or_404(ref)
    s = db()
    att = next((a for a in attachments_of(s, case) if a.id == attachment_id), None)
    if att is None or att.sha256 is None:
        raise not_found()
    try:
        data = runtime().blobs.read(att.sha256)
    except BlobError as exc:
        audit.record(s, user(), "artifact.integrity_error", "step_attachment", att.id, case.id, error=str(exc),
                     **via())
        keep_records()
        raise ApiError(500, "integrity_error", "the stored file does not match its SHA-256") from None
    audit.record(s, user(), "attachment.download", "step_attachment", att.id, case.id, step_id=att.step.step_id,
                 sha256=att.sha256, **via())
    stem = secure_filename((att.filename or "").rsplit(".", 1)[0]) or "bilag"
    resp = Response(data, mimetype="application/octet-stream")
    resp.headers["Content-Disposition"] = (f'attachment; filename="{case.ref}-{att.id}-{stem}.'
                                           f'{EXTENSIONS.get(att.media_type or "", "bin")}"')
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["X-Evidence-SHA256"] = att.sha256
    return resp

