"""`vaern subject erase` and `vaern subject offender-search` (issue 16.4): erasure on request (art. 17) with the
exceptions shown and recorded, and an offender's own access request with other people's data redacted."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from capture.pdf import PdfRenderFailed
from tracker.privacy import offender_access, subject_erasure
from tracker.workflow.erasure import erasure_in_force
from tracker.workflow.retention import retention_in_force
from webui.cli import _work
from webui.cli_retention import _as_of
from webui.cli_subject import subject


@subject.command("erase")
@click.option("--email", default=None, help="the employee's (the account's) e-mail address")
@click.option("--offender", "offender_id", type=int, default=None, help="the offender record's number instead")
@click.option("--reason", required=True, help="the request: when it came and how (recorded in the audit log)")
@click.option("--dry-run", is_flag=True, help="only show what would be erased and what is kept, and why")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="count retention periods from this date")
@click.option("--erase-closed-within-retention", "within", is_flag=True,
              help="HR judged that no legal claim needs the closed cases still within their retention period")
def subject_erase(email: str | None, offender_id: int | None, reason: str, dry_run: bool, as_of: str | None,
                  within: bool) -> None:
    """Erase a person on their request (GDPR art. 17): per item what is erased and what is kept under which
    exception of art. 17(3); the decision is recorded in the audit chain."""
    if (email is None) == (offender_id is None):
        raise click.UsageError("give exactly one of --email and --offender")
    when = _as_of(as_of)
    with _work() as (rt, session):
        rules = retention_in_force(rt.rules_dir)
        exceptions = erasure_in_force(rt.rules_dir)
        who = (subject_erasure.user_by_email(session, email) if email is not None
               else subject_erasure.offender_by_id(session, offender_id))
        if dry_run:
            plan = (subject_erasure.plan_for_user if email is not None else subject_erasure.plan_for_offender)(
                session, who, rules, exceptions, when, erase_within_retention=within)
            session.rollback()
        else:
            plan = subject_erasure.erase(rt, session, who, None, reason, rules, exceptions, when,
                                         erase_within_retention=within).plan
    for line in plan.lines():
        click.echo(line)
    click.echo(f"{'dry run: ' if dry_run else ''}{len(plan.to_erase)} item(s) "
               f"{'to erase' if dry_run else 'erased'}, {len(plan.kept)} kept under an exception"
               + ("" if dry_run else "; recorded in the audit log (subject.erase)"))


@subject.command("offender-search")
@click.option("--query", required=True, help="the name or handle the person gave")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the handout (JSON and a Danish PDF, a draft for HR to review) to this ZIP file")
def offender_search(query: str, out: Path | None) -> None:
    """What Værn holds about a name or handle (an offender's access request, art. 15); other people's data
    redacted. Without --out the redacted JSON is printed."""
    with _work() as (rt, session):
        access = offender_access.search(rt, session, None, query, handout=out is not None)
        if out is not None:
            try:
                data = offender_access.handout_zip(rt, access)
            except PdfRenderFailed as exc:
                click.echo(f"vaern: the PDF could not be printed: {exc}", err=True)
                sys.exit(1)
    if out is None:
        click.echo(json.dumps(access.to_json(), ensure_ascii=False, indent=2))
        return
    out.write_bytes(data)
    click.echo(f"vaern: {len(access.offenders)} offender record(s), {len(access.cases)} case(s); "
               f"handout written to {out} — a DRAFT: HR must review it before it is handed out")
