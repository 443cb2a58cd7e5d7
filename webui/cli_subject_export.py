"""`vaern subject export --email E --out FILE.zip`: an employee's access package (GDPR art. 15; issue 16.4).

The operator at the shell builds it at once (no web request waits for it); HR's page builds the same package
through a job (tracker.packaging.subject_jobs). The export is recorded as ``subject.export`` with the file's
SHA-256; a package whose audit event could not be written is removed.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from storage.models import Role
from tracker.errors import NotFound
from tracker.oversight import audit
from tracker.privacy.subject_access import find_subject
from tracker.packaging.subject_export import write_subject_export
from tracker.packaging.subject_jobs import record_cases_handed_out
from webui.cli_export import _os_user, acting_user, audited_zip
from webui.cli_subject import subject


@subject.command("export")
@click.option("--email", required=True, help="the employee's e-mail (their login)")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the ZIP file to write (never overwritten)")
@click.option("--as", "as_email", default=None, metavar="EMAIL",
              help="the HR person the export is recorded for; default: the operator at the shell")
def export_subject(email: str, out: Path, as_email: str | None) -> None:
    """Write everything Værn holds about the employee EMAIL (GDPR art. 15) as a ZIP; prints its SHA-256."""
    with audited_zip(out, "an access package") as (rt, session, write):
        actor = acting_user(session, as_email, role=Role.hr)
        try:
            person = find_subject(session, email)
        except NotFound:
            click.echo(f"vaern: no user {email!r}", err=True)
            sys.exit(2)
        package = write(lambda: write_subject_export(rt, session, person, out))
        audit.record(session, actor, "subject.export", "user", person.id, via="cli", sha256=package.sha256,
                     size=package.size, files=package.files, os_user=None if actor else _os_user())
        record_cases_handed_out(session, actor, person, sha256=package.sha256, via="cli")
    click.echo(f"vaern: {out}: {package.files} files, {package.evidence} evidence record(s)")
    click.echo(f"SHA-256 {package.sha256}")

