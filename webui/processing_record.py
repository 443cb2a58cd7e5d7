"""The record of processing (GDPR art. 30, issue 16.5) for the administrator: a page, a PDF and Markdown.

The pages live on the admin blueprint (``admin.processing_record`` …); only administrators reach them (others
get 404). The record itself is ``tracker.privacy.processing_record``: built at each request from the settings and
the rule files this process has in force (a file broken on disk after the start leaves the last version that
loaded in use), so it never goes stale; it holds no case content. The PDF is printed synchronously by the same
network-less Chromium as the evidence reports (a few seconds).
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from capture.pdf import PdfRenderFailed
from storage.models import Role
from tracker.privacy.processing_record import record_for
from tracker.packaging.reports import processing_record_markdown, processing_record_pdf
from webui.admin import bp
from webui.db import runtime
from webui.roles import role_required


def _filename(ext: str) -> str:
    return f"vaern-fortegnelse-{datetime.now(timezone.utc):%Y-%m-%d}.{ext}"


def _download(body: bytes | str, mimetype: str, ext: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{_filename(ext)}"'})


@bp.get("/admin/processing-record")
@role_required(Role.admin)
def processing_record():
    return render_template("admin/processing_record.html", record=record_for(runtime()))


@bp.get("/admin/processing-record.pdf")
@role_required(Role.admin)
def processing_record_download_pdf():
    try:
        pdf = processing_record_pdf(runtime(), record_for(runtime()))
    except PdfRenderFailed:
        flash(_("The PDF could not be made. Try again, or download the Markdown version."), "error")
        return redirect(url_for("admin.processing_record"))
    return _download(pdf, "application/pdf", "pdf")


@bp.get("/admin/processing-record.md")
@role_required(Role.admin)
def processing_record_download_markdown():
    return _download(processing_record_markdown(record_for(runtime())), "text/markdown; charset=utf-8", "md")
