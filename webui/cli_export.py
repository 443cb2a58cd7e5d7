"""The `vaern export` and `vaern verify-package` commands."""
from __future__ import annotations

import contextlib
import getpass
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from webui.cli import _runtime, main
from storage.models import Case, Role, User
from tracker.adapters.runtime import Runtime
from tracker.cases.register import get_case_for
from tracker.errors import DomainError, NotFound
from tracker.oversight import audit
from tracker.packaging.export import write_case_package
from tracker.packaging.package import PackageUnreadable, verify_package


@main.command()
@click.argument("ref")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the ZIP file to write (never overwritten)")
@click.option("--as", "as_email", default=None, metavar="EMAIL",
              help="the user the export is recorded for (must be allowed to see the case); default: the system")
def export(ref: str, out: Path, as_email: str | None) -> None:
    """Export case REF as a ZIP package verifiable with sha256sum and openssl; prints its SHA-256."""
    with audited_zip(out, "an export package") as (rt, session, write):
        actor = acting_user(session, as_email)
        try:
            case = get_case_for(session, ref, actor) if actor else \
                session.execute(select(Case).where(Case.ref == ref)).scalar()
        except NotFound:
            case = None
        if case is None:
            click.echo(f"vaern: no case {ref!r}" + (f" that {actor.email} may see" if actor else ""), err=True)
            sys.exit(2)
        package = write(lambda: write_case_package(rt, session, case, out))
        audit.record(session, actor, "package.export", "case", case.ref, case.id, via="cli",
                     sha256=package.sha256, size=package.size, files=package.files,
                     filename=out.name, os_user=None if actor else _os_user())
    click.echo(f"vaern: {out}: {package.files} files, {package.evidence} evidence folder(s)")
    click.echo(f"SHA-256 {package.sha256}")


@contextlib.contextmanager
def audited_zip(out: Path, what: str) -> Iterator[tuple[Runtime, Session, Callable]]:
    """How a command writes a ZIP whose handing-out it audits: never over an existing file, in one transaction
    with its audit event, and removed again if that transaction does not commit (an export that is not in the
    audit log must not exist). Yields the runtime, the session and ``write(make)``, which calls ``make`` and
    turns its refusals into the command's exit (2: the file appeared meanwhile; 1: the export failed)."""
    if out.exists():
        click.echo(f"vaern: {out} exists: {what} is never overwritten", err=True)
        sys.exit(2)
    rt = _runtime()
    written = []

    def write(make: Callable):
        try:
            package = make()
        except FileExistsError as exc:
            click.echo(f"vaern: {exc}", err=True)
            sys.exit(2)
        except DomainError as exc:
            click.echo(f"vaern: export failed: {exc.message}", err=True)
            sys.exit(1)
        written.append(package)
        return package

    try:
        with rt.transaction() as session:
            yield rt, session, write
    except BaseException:
        if written:
            out.unlink(missing_ok=True)
        raise
    finally:
        rt.close()


def acting_user(session: Session, as_email: str | None, *, role: Role | None = None) -> User | None:
    """The active user ``--as`` names (of ``role``, if given), None without ``--as``; exit 2 if there is none."""
    if not as_email:
        return None
    actor = session.execute(select(User).where(User.email == as_email.strip().lower())).scalar()
    if actor is None or not actor.active or (role is not None and actor.role is not role):
        click.echo(f"vaern: no active {'HR ' if role is Role.hr else ''}user {as_email!r}", err=True)
        sys.exit(2)
    return actor


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@main.command("verify-package")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--ca-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="check timestamps against this CA certificate instead of the package's tsa/*.pem")
def verify_package_cmd(file: Path, ca_file: Path | None) -> None:
    """Verify an export package: exit 0 when intact, 1 naming each failing file, 2 when unreadable."""
    try:
        result = verify_package(file, ca_file=ca_file)
    except PackageUnreadable as exc:
        click.echo(f"vaern: {exc}", err=True)
        sys.exit(2)
    for problem in result.problems:
        click.echo(problem.line())
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if not result.ok:
        click.echo(f"vaern: {len(result.problems)} problem(s); {result.checked} file(s) verified", err=True)
        sys.exit(1)
    stamps = f", {result.timestamps} timestamp(s) verified" if result.timestamps else ""
    crossed = f", {result.cross_checked} fingerprint(s) cross-checked" if result.cross_checked else ""
    click.echo(f"OK: {result.checked} files verified{stamps}{crossed}")
