"""`vaern profile import|list|remove`: capture profiles from the shell (issue 14), as the operator (actor None).

The same ``tracker.accounts.profiles`` operations as the admin pages; the storage state is read from a file,
encrypted by the tracker and never echoed.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from tracker.accounts import profiles
from tracker.errors import NotFound
from webui.cli import _work, main


@main.group()
def profile() -> None:
    """Capture profiles: logged-in platform accounts used for captures of their hosts."""


@profile.command("import")
@click.argument("name")
@click.option("--hosts", required=True, metavar="HOST[:PORT],…", help="the hosts whose URLs the profile is used for")
@click.option("--storage-state", "state_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Playwright storage-state JSON (cookies, local storage)")
@click.option("--account", default="", help="who the account is, as the evidence names it")
def profile_import(name: str, hosts: str, state_file: Path, account: str) -> None:
    """Import (or replace) profile NAME from a Playwright storage-state file."""
    with _work() as (rt, session):
        row, replaced = profiles.import_profile(session, None, rt.settings, name, hosts, state_file.read_bytes(),
                                                account)
        what = f"vaern: profile {row.name!r} {'replaced' if replaced else 'imported'} for {', '.join(row.hosts)} " \
               f"({row.cookies} cookies)"
    click.echo(what)


@profile.command("list")
def profile_list() -> None:
    """List the profiles: name, status, hosts, account (never their logins)."""
    with _work() as (_rt, session):
        rows = [(p.name, p.status, ",".join(p.hosts), p.account) for p in profiles.list_profiles(session, None)]
    for name, status, hosts, account in rows:
        click.echo(f"{name}\t{status}\t{hosts}\t{account}")
    if not rows:
        click.echo("vaern: no capture profiles", err=True)


@profile.command("remove")
@click.argument("name")
def profile_remove(name: str) -> None:
    """Remove profile NAME and its stored login."""
    try:
        with _work() as (_rt, session):
            profiles.remove_profile(session, None, name)
    except NotFound:
        click.echo(f"vaern: no capture profile {name!r}", err=True)
        sys.exit(2)
    click.echo(f"vaern: profile {name!r} removed")
