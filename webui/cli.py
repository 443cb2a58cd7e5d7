"""The `vaern` command: serve, worker, demo, db upgrade, unit/user admin, capture from the shell.

Unit, user and token commands call the same ``tracker.accounts`` functions as the admin pages, as the
operator at the shell (actor ``None``), inside one ``tracker.uow.unit_of_work``.
"""
from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path

import click

from tracker import __version__
from tracker.settings import Settings, SettingsError, load_settings
from capture.engine import Capturer
from capture.errors import CaptureRefused
from capture.policy import check_url
from capture.upload import capture_upload
from storage.db import alembic_config, current_revision, upgrade
from storage.types import utcnow
from tracker.accounts.tokens import create_token_for_email, list_tokens_for_email, revoke_tokens_for_email, token_state
from tracker.accounts import admin
from tracker.adapters.demo import DEMO_PASSWORD, DemoMode, ensure_demo_org, seed_demo_history, start_demo_site
from tracker.adapters.demo_mail import start_demo_mail
from tracker.adapters.jobs import requeue_stalled, start_embedded_consumer
from tracker.adapters.runtime import Runtime
from tracker.cases.register import validate_url
from tracker.errors import DomainError
from tracker.uow import unit_of_work
from webui import password_text
from webui.app import create_app

log = logging.getLogger("vaern")


def _settings(**overrides) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _runtime(settings: Settings | None = None, migrate: bool | None = None):
    settings = settings or _settings()
    url = settings.resolved_database_url
    if migrate is None:
        migrate = url.startswith("sqlite")  # the embedded default migrates itself
    try:
        rt = Runtime.from_settings(settings, migrate=migrate)
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
        click.echo(f"vaern: cannot open the database {settings.resolved_database_url.split('@')[-1]}: {exc}", err=True)
        sys.exit(2)
    if not migrate:
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        if current_revision(rt.engine) != head:
            click.echo("vaern: the database schema is not up to date: run `vaern db upgrade` first", err=True)
            sys.exit(2)
    return rt


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaern")
def main() -> None:
    """Værn: evidence capture and takedown tracking for harassment of municipal employees."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("mitmproxy", "alembic", "huey"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# -- running ------------------------------------------------------------------------------
def _serve(rt, host: str, port: int, demo=None) -> None:
    import waitress

    try:
        app = create_app(runtime=rt, demo=demo)
    except DomainError as exc:  # a broken rules, platform or letter file: one line, no traceback
        click.echo(f"vaern: {exc.message}", err=True)
        rt.close()
        sys.exit(2)
    consumer = None
    if rt.settings.embedded_queue:
        consumer = start_embedded_consumer(rt)
        click.echo(f"vaern: capture worker running in this process ({rt.settings.workers} threads, queue on SQLite)")
    else:
        click.echo("vaern: queue on Redis — start one or more `vaern worker` processes")
    click.echo(f"vaern: serving on http://{host}:{port}/  (Ctrl-C stops)")
    try:
        waitress.serve(app, host=host, port=port, threads=8, ident="Vaern", _quiet=True)
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)
        rt.close()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the web app (and, on the embedded defaults, the capture worker in the same process)."""
    _serve(_runtime(), host, port)


@main.command()
@click.option("--workers", default=None, type=int, help="capture threads in this process")
def worker(workers: int | None) -> None:
    """Run a capture worker against the Redis queue (start several, on several hosts)."""
    settings = _settings()
    if settings.embedded_queue:
        click.echo("vaern: `vaern worker` needs VAERN_REDIS_URL; on the embedded default `vaern serve` runs the worker", err=True)
        sys.exit(2)
    rt = _runtime(settings)
    try:  # checked at start, as `vaern serve` does; afterwards a file broken on disk leaves the last good one in use
        rt.in_force
    except DomainError as exc:
        click.echo(f"vaern: {exc.message}", err=True)
        rt.close()
        sys.exit(2)
    consumer = rt.huey.create_consumer(workers=workers or settings.workers, worker_type="thread",
                                       periodic=True, check_worker_health=True)
    requeue_stalled(rt)
    click.echo(f"vaern: worker consuming from {settings.redis_url.split('@')[-1]}")
    try:
        consumer.run()
    finally:
        rt.close()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def demo(host: str, port: int) -> None:
    """Create the demo organisation, serve a local demo post, run a local mail server, and run Værn."""
    site = start_demo_site()
    mail = start_demo_mail()
    mode = DemoMode(site, mail)
    base = _settings()
    hosts = ",".join(filter(None, [base.capture_allowed_hosts, site.allowed_hosts]))
    settings = base.model_copy(update={"capture_allowed_hosts": hosts, "smtp_host": mail.host, "smtp_port": mail.port,
                                       "smtp_starttls": False, "smtp_user": None, "base_url": f"http://{host}:{port}"})
    rt = _runtime(settings)
    rt.use_in_force(mode.in_force(rt.in_force))  # the demo host counts as Facebook while seeding, too
    with rt.transaction() as session:
        users = ensure_demo_org(session)
    click.echo("vaern demo: adding the made-up earlier cases (first start only; each is captured from a demo page) …")
    seeded = seed_demo_history(rt, site, utcnow())
    click.echo("")
    click.echo("Værn demo — logins (password for all: %s)" % DEMO_PASSWORD)
    for email, role, unit in users:
        click.echo(f"  {role:9} {unit:14} {email}")
    click.echo(f"Demo post to capture: {site.post_url}")
    if seeded:
        click.echo(f"{seeded} made-up earlier cases were added, so HR's pages and the MED statistics have content")
    click.echo(f"Mails Værn sends go to the demo's own mail server: http://{host}:{port}/demo/mail")
    click.echo(f"Open http://{host}:{port}/ and log in as medarbejder@demo.vaern.dk")
    click.echo("")
    try:
        _serve(rt, host, port, demo=mode)
    finally:
        mode.stop()


# -- database and people --------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Run pending migrations."""
    settings = _settings()  # first: an invalid setting is one clear line, before alembic's import logging
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    click.echo("vaern: database schema is up to date")


@contextlib.contextmanager
def _work():
    """One administrative command: a unit of work (committed when the block ends); a refusal is one line
    on standard error and exit 2, with nothing saved."""
    rt = _runtime()
    try:
        with unit_of_work(rt) as session:
            yield rt, session
    except DomainError as exc:
        click.echo(f"vaern: {_domain_message(exc)}", err=True)
        sys.exit(2)
    finally:
        rt.close()


@main.group()
def unit() -> None:
    """Organisational units."""


@unit.command("add")
@click.argument("name")
def unit_add(name: str) -> None:
    """Add a unit."""
    with _work() as (_rt, session):
        admin.create_unit(session, None, name)
    click.echo(f"vaern: unit {name!r} added")


@main.group()
def user() -> None:
    """Users."""


@user.command("add")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["employee", "leader", "hr", "amr", "admin"]))
@click.option("--unit", "unit_name", default=None, help="unit name (required for employee, leader, amr)")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def user_add(email: str, name: str, role: str, unit_name: str | None, password_stdin: bool) -> None:
    """Add a user (the password is prompted, or read with --password-stdin)."""
    password = _read_password(password_stdin)
    with _work() as (_rt, session):
        unit_id = admin.unit_id_named(session, unit_name) if unit_name else None
        admin.create_user(session, None, email=email, name=name, role=role, unit_id=unit_id, password=password)
    click.echo(f"vaern: user {email.lower()} ({role}) added")


def _read_password(from_stdin: bool) -> str:
    """One line from standard input, or a hidden prompt asked twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _domain_message(exc) -> str:
    """A refused password is told in Danish (as on the admin pages); other refusals as the domain says them."""
    return password_text.in_danish(exc) if exc.code in password_text.CODES else exc.message


@user.command("password")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="read the new password from standard input")
def user_password(email: str, password_stdin: bool) -> None:
    """Set a user's password (checked like on the admin pages); every session of the user ends."""
    password = _read_password(password_stdin)
    with _work() as (_rt, session):
        admin.set_password_of(session, None, email, password)
    click.echo(f"vaern: password of {email.strip().lower()} set; their sessions have ended")


# -- capture from the shell -------------------------------------------------------------------
def _write_bundle(bundle, out: Path, as_json: bool) -> None:
    try:
        bundle.write_to(out)
    except FileExistsError as exc:
        click.echo(f"vaern: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"fingerprint": bundle.fingerprint, "status": bundle.status, "out": str(out),
                               "artifacts": [a.describe() for a in bundle.artifacts],
                               "timestamped": bundle.timestamp is not None,
                               "timestamp_error": bundle.timestamp_error}, ensure_ascii=False))
    else:
        click.echo(bundle.fingerprint)


def _produce_bundle(produce):
    """Run one capture; refused input exits 2 and a broken capture exits 1, each with one line."""
    try:
        return produce()
    except CaptureRefused as exc:
        click.echo(f"vaern: refused: {exc.reason}", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        click.echo(f"vaern: capture failed: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.argument("url")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print a JSON summary instead of the fingerprint")
@click.option("--operator", default="cli", show_default=True)
def capture(url: str, out: Path, as_json: bool, operator: str) -> None:
    """Capture URL as evidence into OUT; prints the fingerprint (exit 2: refused, 1: failed)."""
    options = _settings().capture_options(__version__)
    try:  # refuse before starting a browser (capture's reasons first); bad input is exit 2, never a traceback
        check_url(url, options.allowed_hosts)
        validate_url(url)
    except DomainError as exc:
        click.echo(f"vaern: refused: {exc.message}", err=True)
        sys.exit(2)
    except CaptureRefused as exc:
        click.echo(f"vaern: refused: {exc.reason}", err=True)
        sys.exit(2)
    except (ValueError, UnicodeError) as exc:
        click.echo(f"vaern: refused: the address cannot be read ({exc.__class__.__name__})", err=True)
        sys.exit(2)
    if (out / "manifest.json").exists():
        click.echo(f"vaern: {out / 'manifest.json'} exists: evidence is never overwritten", err=True)
        sys.exit(1)

    def run():
        with Capturer(options) as capturer:
            return capturer.capture(url, operator=operator)

    bundle = _produce_bundle(run)
    _write_bundle(bundle, out, as_json)
    if bundle.status in ("failed", "blocked_by_policy"):
        click.echo(f"vaern: capture status {bundle.status}", err=True)
        sys.exit(1)


@main.command("capture-file")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--operator", default="cli", show_default=True)
def capture_file(file: Path, out: Path, as_json: bool, operator: str) -> None:
    """Secure a file (image, PDF, .eml, WACZ) as evidence into OUT; prints the fingerprint (exit 2: refused)."""
    options = _settings().capture_options(__version__)
    try:
        data = file.read_bytes()
    except OSError as exc:
        click.echo(f"vaern: refused: cannot read {file}: {exc.strerror}", err=True)
        sys.exit(2)
    _write_bundle(_produce_bundle(lambda: capture_upload(data, file.name, options, operator)), out, as_json)


# -- API tokens -------------------------------------------------------------------------------------
@main.group()
def token() -> None:
    """Bearer tokens for the JSON API (only their SHA-256 is stored)."""


@token.command("create")
@click.option("--email", required=True, help="the user the token acts as")
@click.option("--name", default="", help="what the token is for, e.g. the integration's name")
@click.option("--days", default=None, type=int, help="days the token is valid (default: VAERN_API_TOKEN_DAYS, 90)")
def token_create(email: str, name: str, days: int | None) -> None:
    """Create a token; it is printed once, as the last word of the output."""
    with _work() as (rt, session):
        row, secret = create_token_for_email(session, email, name, None,
                                             days=rt.settings.api_token_days if days is None else days)
        expires = row.expires_at
    click.echo(f"vaern: token for {email.strip().lower()}, valid until {expires:%Y-%m-%d %H:%M} UTC "
               f"(shown only now; store it safely): {secret}")


@token.command("list")
@click.option("--email", required=True)
def token_list(email: str) -> None:
    """The user's tokens: id, name, state, created, expires, last used (times in UTC)."""

    def when(dt) -> str:
        return f"{dt:%Y-%m-%d %H:%M}" if dt else "-"

    with _work() as (_rt, session):
        rows = [(r.id, r.name or "-", token_state(r), when(r.created_at), when(r.expires_at),
                 when(r.last_used_at)) for r in list_tokens_for_email(session, email)]
    click.echo("id\tname\tstate\tcreated\texpires\tlast used")
    for row in rows:
        click.echo("\t".join(str(v) for v in row))


@token.command("revoke")
@click.option("--email", required=True)
@click.option("--name", default=None, help="revoke only the tokens with this name")
def token_revoke(email: str, name: str | None) -> None:
    """Revoke the user's tokens (all of them, or those called --name)."""
    with _work() as (_rt, session):
        count = revoke_tokens_for_email(session, email, name)
    click.echo(f"vaern: {count} token(s) of {email.strip().lower()} revoked")


# commands kept in their own modules register themselves on ``main`` when imported
from webui import cli_export, cli_oversight, cli_processing_record, cli_profiles, cli_retention, cli_subject  # noqa: E402,F401
