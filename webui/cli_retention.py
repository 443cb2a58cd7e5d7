"""`vaern retention run` and `vaern case hold|release` (issue 16): erase what is due; keep what is held."""
from __future__ import annotations

import sys
from datetime import date, datetime, time, timezone

import click
from sqlalchemy import select

from storage.models import Case
from storage.types import utcnow
from tracker.cases.hold import hold_case, release_case
from tracker.errors import DomainError
from tracker.privacy.retention import run_retention
from tracker.workflow.retention import retention_in_force
from webui.cli import _runtime, _work, main


def _as_of(value: str | None) -> datetime:
    """The moment the run counts from: the start of --as-of (UTC), else now."""
    if value is None:
        return utcnow()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("write the date as YYYY-MM-DD", param_hint="--as-of") from None
    return datetime.combine(day, time(), tzinfo=timezone.utc)


@main.group()
def retention() -> None:
    """Retention: erase what the retention rules say is due."""


@retention.command("run")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="count from this date instead of now")
@click.option("--dry-run", is_flag=True, help="only list what would be erased")
def retention_run(as_of: str | None, dry_run: bool) -> None:
    """Erase closed cases, offender records and suggestions that are due (never a case under legal hold)."""
    when = _as_of(as_of)
    rt = _runtime()
    try:  # the file on disk now (a run is one process); broken: its loader's one line, exit 2
        result = run_retention(rt, when, dry_run=dry_run, rules=retention_in_force(rt.rules_dir))
    except DomainError as exc:
        click.echo(f"vaern: {exc.message}", err=True)
        sys.exit(2)
    finally:
        rt.close()
    for line in result.lines():
        click.echo(line)
    click.echo(f"{'dry run: ' if dry_run else ''}{len(result.cases)} case(s), {len(result.offenders)} offender(s), "
               f"{len(result.suggestions)} suggestion(s) {'due' if dry_run else 'erased'} as of {when:%Y-%m-%d}; "
               f"{len(result.held)} held case(s) kept")


@main.group("case")
def case_group() -> None:
    """Cases: legal hold."""


def _case(session, ref: str) -> Case:
    case = session.execute(select(Case).where(Case.ref == ref.strip().upper())).scalar_one_or_none()
    if case is None:
        click.echo(f"vaern: no case {ref}", err=True)
        sys.exit(2)
    return case


@case_group.command("hold")
@click.argument("ref")
@click.option("--reason", required=True, help="why the case is held (e.g. the court case's reference)")
def case_hold(ref: str, reason: str) -> None:
    """Place a legal hold on the case: retention erases nothing of it until it is released."""
    with _work() as (_rt, session):
        case = _case(session, ref)
        hold_case(session, case, None, reason)
        ref = case.ref
    click.echo(f"vaern: case {ref} is under legal hold")


@case_group.command("release")
@click.argument("ref")
def case_release(ref: str) -> None:
    """Release the legal hold: the retention rules apply to the case again."""
    with _work() as (_rt, session):
        case = _case(session, ref)
        release_case(session, case, None)
        ref = case.ref
    click.echo(f"vaern: the legal hold on case {ref} is released")
