"""`vaern processing-record --out FILE.pdf|FILE.md` (issue 16.5): Værn's section of the GDPR art. 30 record.

The same record as the administrator's page (``tracker.privacy.processing_record``), from this process's
settings and the rule files in force; the suffix of ``--out`` chooses PDF (printed by the network-less Chromium)
or Markdown.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from capture.pdf import PdfRenderFailed
from tracker.errors import DomainError
from tracker.privacy.processing_record import record_for
from tracker.packaging.reports import processing_record_markdown, processing_record_pdf
from webui.cli import _runtime, main

FORMATS = (".pdf", ".md")


@main.command("processing-record")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.pdf (Danish PDF) or FILE.md (Markdown to paste into the municipality's record)")
def processing_record(out: Path) -> None:
    """Write Værn's section of the record of processing activities (GDPR art. 30) as PDF or Markdown."""
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise click.UsageError("--out must end in .pdf or .md")
    rt = _runtime()
    try:
        try:
            record = record_for(rt)
        except DomainError as exc:  # a broken rule file (e.g. the municipality's processing_record.toml): one line
            click.echo(f"vaern: {exc.message}", err=True)
            sys.exit(2)
        if suffix == ".pdf":
            try:
                body: bytes = processing_record_pdf(rt, record)
            except PdfRenderFailed as exc:
                raise click.ClickException(f"the PDF could not be made: {exc}") from None
        else:
            body = processing_record_markdown(record).encode("utf-8")
    finally:
        rt.close()
    out.write_bytes(body)
    click.echo(f"vaern: record of processing written to {out} ({record.to_confirm} statement(s) to be confirmed "
               "by the municipality)")
