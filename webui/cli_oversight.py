"""The `vaern verify` command: re-hash every blob and walk the audit chain."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from webui.cli import _runtime, _settings, main
from storage.blobs import BlobError
from tracker.integrity.integrity import AnchorWriteError, anchor_path, run_verification
from tracker.oversight.search import reindex_case_texts


@main.command()
@click.option("--no-blobs", is_flag=True, help="check only the audit chain and its anchors (fast)")
@click.option("--json", "as_json", is_flag=True, help="print the report as one JSON object")
def verify(no_blobs: bool, as_json: bool) -> None:
    """Re-hash every evidence blob, walk the audit chain, check its anchors (exit 0: all holds, 1: a problem)."""
    settings = _settings()
    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        click.echo(f"vaern: no database at {url.removeprefix('sqlite:///')} "
                   "(set VAERN_DATA_DIR or VAERN_DATABASE_URL)", err=True)
        sys.exit(2)
    rt = _runtime(settings, migrate=False)  # verifying never changes the schema
    try:
        report, anchor = run_verification(rt, blobs=not no_blobs)
    except AnchorWriteError as exc:
        click.echo(f"vaern: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - exit 1 means "something was altered": a crash is not that
        click.echo(f"vaern: verification could not finish: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    finally:
        rt.close()
    if as_json:
        out = report.as_dict()
        out["anchored_event_id"] = anchor.event_id if anchor else None
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        for line in report.lines()[:-1]:
            click.echo(line)
        if anchor is not None:
            click.echo(f"anchored the chain at event {anchor.event_id} in {anchor_path(settings)}")
        click.echo(report.lines()[-1])
    sys.exit(0 if report.ok else 1)


@main.command()
def reindex() -> None:
    """Rebuild HR's full-text search from every case's description and stored capture text."""
    rt = _runtime()
    try:
        count = reindex_case_texts(rt)
    except BlobError as exc:
        click.echo(f"vaern reindex: a stored capture text failed its check, run `vaern verify`: {exc}", err=True)
        sys.exit(1)
    finally:
        rt.close()
    click.echo(f"OK: the searchable text of {count} case(s) was rebuilt")
