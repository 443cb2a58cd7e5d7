"""Case packages and PDF reports through the API: built by a job (``tracker.packaging.exports``), so a
request starts one and answers 202; its status is polled; the file is downloaded once done. Only the
token's user sees their own jobs, while they may see the case."""
from __future__ import annotations

from typing import Any

from flask import url_for

from storage.models import Case, ExportJob
from tracker.errors import NotFound
from tracker.oversight import audit
from tracker.packaging import exports as ops
from webui.api.core import ApiError, Field, answer, body, case_or_404, not_found, operation, run, user, via
from webui.db import db
from webui.exports import send_export  # the pages' download: audit first, then the file

EXPORTS = "Exports"
READERS = "whoever may see the case; a job only by the person who started it"


def export_data(case: Case, job: ExportJob) -> dict[str, Any]:
    done = job.state == "done"
    return {"id": job.id, "kind": job.kind, "evidence_id": job.evidence_id, "state": job.state, "step": job.step,
            "error": job.error, "created_at": job.created_at, "finished_at": job.finished_at,
            "sha256": job.sha256 if done else None, "size": job.size if done else None,
            "url": url_for("api.export_status", ref=case.ref, job_id=job.id),
            "download_url": url_for("api.export_download", ref=case.ref, job_id=job.id) if done else None}


def _job_or_404(case: Case, job_id: int) -> ExportJob:
    try:
        return ops.get_job_for(db(), user(), case, job_id)
    except NotFound:
        raise not_found() from None


@operation("POST", "/cases/<ref>/exports", tag=EXPORTS, summary="Start building a package or report", ok=202,
           response="Export", who="whoever may see the case", errors=(400, 404),
           body={"kind": Field("string", "what to build", choices=ops.KINDS, required=True),
                 "evidence_id": Field("integer", "the evidence (for evidence_report)", nullable=True)})
def start_export(ref: str):
    """Your running job for the same file is returned rather than a second one. 400 bad_kind; an evidence id
    of another case is a 404."""
    case = case_or_404(ref)
    b = body()
    job = run(lambda s: ops.request_export(s, user(), case, b.get("kind") or "", evidence_id=b.get("evidence_id"),
                                           via="api"))
    return answer(export_data(case, job), 202, url_for("api.export_status", ref=case.ref, job_id=job.id))


@operation("GET", "/cases/<ref>/exports", tag=EXPORTS, summary="Your newest jobs for the case",
           response="ExportList", who=READERS, errors=(404,))
def list_exports(ref: str):
    """Newest first (the five the case page shows); audited as a view of the case."""
    case = case_or_404(ref)
    jobs = ops.jobs_for(db(), user(), case)
    audit.record(db(), user(), "case.view", "case", case.ref, case.id, part="exports", **via())
    return answer({"exports": [export_data(case, job) for job in jobs]})


@operation("GET", "/cases/<ref>/exports/<int:job_id>", tag=EXPORTS, summary="A job's state", response="Export",
           who=READERS, errors=(404,))
def export_status(ref: str, job_id: int):
    """``state``: queued, running, done, failed, expired; once done also ``sha256``, ``size``, ``download_url``."""
    case = case_or_404(ref)
    return answer(export_data(case, _job_or_404(case, job_id)))


@operation("GET", "/cases/<ref>/exports/<int:job_id>/download", tag=EXPORTS, summary="Download the built file",
           response=None, media_type="application/octet-stream", who=READERS, errors=(404,))
def export_download(ref: str, job_id: int):
    """The ZIP or PDF, audited with its SHA-256 (also in ``X-Evidence-SHA256``); 404 until it is ready."""
    case = case_or_404(ref)
    job = _job_or_404(case, job_id)
    if job.state != "done":
        raise ApiError(404, "not_found", "the file is not ready (see the job's state)")
    return send_export(case, job, user(), "api")
