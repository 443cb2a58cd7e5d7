"""The `vaern` console script as an operator runs it: real subprocesses, a clean environment, real Chromium.

Every command gets its own data directory and only the VAERN_* variables the test sets; the
fixture site (tests/support/fixture_site) serves the pages to capture on 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import io
import json
import socket
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import FINGERPRINT, said, vaern
from tests.support.factories import png_bytes
from tests.support.fixture_site import FixtureSite



def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("skærmbillede.png", png_bytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def site():
    with FixtureSite() as s:
        yield s


@pytest.fixture(scope="module")
def capture_dir(tmp_path_factory):
    """One data directory for the module's captures: the egress proxy's CA is made once and reused."""
    return tmp_path_factory.mktemp("cli-capture") / "data"


def allowed(site) -> dict[str, str]:
    return {"capture_allowed_hosts": f"127.0.0.1:{site.port}"}


def assert_bundle_matches(out: Path, fingerprint: str) -> dict:
    """manifest.json hashes to the fingerprint and lists exactly the files in ``out``, each with its SHA-256."""
    manifest_path = out / "manifest.json"
    assert sha256_file(manifest_path) == fingerprint
    manifest = json.loads(manifest_path.read_bytes())
    listed = {a["name"]: a for a in manifest["artifacts"]}
    assert listed, "the manifest lists no artifacts"
    for name, art in listed.items():
        assert (out / name).is_file(), name
        assert sha256_file(out / name) == art["sha256"], name
        assert (out / name).stat().st_size == art["size"], name
    assert sorted(p.name for p in out.iterdir()) == sorted([*listed, "manifest.json"])  # no temp files left
    return manifest


# -- capture ---------------------------------------------------------------------------------------
@pytest.mark.browser
def test_capture_writes_a_bundle_whose_manifest_hashes_to_the_printed_fingerprint(site, capture_dir, tmp_path):
    out = tmp_path / "bevis"
    url = site.url("/plain_post.html")
    result = vaern("capture", url, "--out", str(out), data_dir=capture_dir, **allowed(site))
    assert result.returncode == 0, result.stderr
    fingerprint = result.stdout.strip().splitlines()[-1]
    assert FINGERPRINT.fullmatch(fingerprint), result.stdout
    manifest = assert_bundle_matches(out, fingerprint)
    assert manifest["kind"] == "url" and manifest["requested_url"] == url
    assert manifest["status"] == "ok" and manifest["operator"] == "cli"
    assert {"screenshot_full.png", "screenshot_viewport.png", "page.mhtml", "page.html", "text.txt",
            "traffic.warc.gz"} <= {a["name"] for a in manifest["artifacts"]}


@pytest.mark.browser
def test_capture_json_of_a_removed_post_reports_not_found_and_still_exits_0(site, capture_dir, tmp_path):
    out = tmp_path / "fjernet"
    result = vaern("capture", site.url("/removed"), "--out", str(out), "--json", data_dir=capture_dir, **allowed(site))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "not_found"
    assert FINGERPRINT.fullmatch(summary["fingerprint"])
    assert summary["timestamped"] is False
    manifest = assert_bundle_matches(out, summary["fingerprint"])
    assert manifest["status"] == "not_found"
    assert [(a["name"], a["sha256"]) for a in summary["artifacts"]] == \
        [(a["name"], a["sha256"]) for a in manifest["artifacts"]]


@pytest.mark.browser
def test_capture_never_overwrites_an_existing_manifest(site, capture_dir, tmp_path):
    out = tmp_path / "bevis"
    out.mkdir()
    earlier = b'{"schema": "vaern.manifest/1", "note": "an earlier capture"}'
    (out / "manifest.json").write_bytes(earlier)
    result = vaern("capture", site.url("/plain_post.html"), "--out", str(out), data_dir=capture_dir, **allowed(site))
    assert result.returncode != 0
    assert "never overwritten" in said(result.stderr)[-1]
    assert (out / "manifest.json").read_bytes() == earlier
    assert [p.name for p in out.iterdir()] == ["manifest.json"]  # nothing of the new bundle written beside it


@pytest.mark.parametrize("url, reason", [
    ("http://[::1/opslag", "cannot be parsed"),
    ("http:///opslag", "no host"),
    ("ftp://example.org/opslag", "only http and https"),
    ("http://10.0.0.1/", "non-public address 10.0.0.1"),
    ("http://169.254.169.254/", "non-public address 169.254.169.254"),
    ("not-allow-listed", "non-public address 127.0.0.1"),
], ids=["malformed", "no-host", "ftp", "private-10", "metadata-service", "loopback-other-port"])
def test_capture_refuses_a_bad_or_internal_address_with_one_line_and_writes_nothing(site, tmp_path, url, reason):
    if url == "not-allow-listed":
        port = free_port()
        assert port != site.port
        url = f"http://127.0.0.1:{port}/plain_post.html"
    out = tmp_path / "bevis"
    result = vaern("capture", url, "--out", str(out), data_dir=tmp_path / "data", **allowed(site))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vaern: refused: ") and reason in lines[0]
    assert result.stdout == ""
    assert not out.exists()


# -- capture-file ----------------------------------------------------------------------------------
def test_capture_file_secures_a_png_with_its_bytes_unchanged(tmp_path):
    data = png_bytes(120, 80, (10, 120, 200))
    src = tmp_path / "skærmbillede.png"
    src.write_bytes(data)
    out = tmp_path / "bevis"
    result = vaern("capture-file", str(src), "--out", str(out), data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    fingerprint = result.stdout.strip().splitlines()[-1]
    assert FINGERPRINT.fullmatch(fingerprint)
    manifest = assert_bundle_matches(out, fingerprint)
    assert (out / "original.png").read_bytes() == data
    assert manifest["kind"] == "upload"
    assert manifest["original"]["filename"] == "skærmbillede.png"
    assert manifest["original"]["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("make, reason", [
    (lambda d: (d / "bilag.zip", zip_bytes()), "not supported"),
    (lambda d: (d / "findes-ikke.png", None), "cannot read"),
], ids=["zip", "missing"])
def test_capture_file_refuses_an_unsupported_or_missing_file_with_one_line(tmp_path, make, reason):
    path, data = make(tmp_path)
    if data is not None:
        path.write_bytes(data)
    out = tmp_path / "bevis"
    result = vaern("capture-file", str(path), "--out", str(out), data_dir=tmp_path / "data")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vaern: refused: ") and reason in lines[0]
    assert not out.exists()


# -- database, units, users ------------------------------------------------------------------------
def test_db_upgrade_then_units_and_users_are_added_and_mistakes_get_one_clear_line(tmp_path):
    data = tmp_path / "ny" / "data"  # does not exist yet
    result = vaern("db", "upgrade", data_dir=data)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert (data / "vaern.sqlite3").is_file()

    result = vaern("unit", "add", "Jobcenter", data_dir=data)
    assert result.returncode == 0, result.stderr
    assert "Jobcenter" in result.stdout

    result = vaern("unit", "add", "Jobcenter", data_dir=data)
    assert result.returncode == 2
    assert said(result.stderr) == ["vaern: unit 'Jobcenter' exists already"]

    user = ("user", "add", "--email", "a@b.dk", "--name", "A", "--role", "employee", "--password-stdin")
    result = vaern(*user, "--unit", "Jobcenter", data_dir=data, stdin="korrekt-hest-batteri\n")
    assert result.returncode == 0, result.stderr
    assert "a@b.dk (employee) added" in result.stdout

    result = vaern(*user[:3], "c@b.dk", *user[4:], "--unit", "Borgerservice", data_dir=data,
                   stdin="korrekt-hest-batteri\n")
    assert result.returncode == 2
    [line] = said(result.stderr)
    assert line.startswith("vaern: ") and "Borgerservice" in line

    result = vaern(*user[:3], "d@b.dk", *user[4:], "--unit", "Jobcenter", data_dir=data, stdin="kort\n")
    assert result.returncode == 2
    [line] = said(result.stderr)
    assert line.startswith("vaern: ") and "Adgangskoden skal have mindst 10 tegn" in line


# -- settings and commands --------------------------------------------------------------------------
@pytest.mark.parametrize("name, value", [
    ("VAERN_CAPTURE_TIME_CAP", "abc"),
    ("VAERN_CAPTURE_ALLOWED_HOSTS", "nonsense"),
    ("VAERN_DATABASE_URL", "mysql://x"),
])
def test_an_invalid_setting_stops_the_start_with_one_line_naming_it(tmp_path, name, value):
    data = tmp_path / "data"
    result = vaern("db", "upgrade", data_dir=data, **{name.removeprefix("VAERN_").lower(): value})
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    assert not (data / "vaern.sqlite3").exists()


def test_worker_without_redis_says_it_needs_vaern_redis_url(tmp_path):
    result = vaern("worker", data_dir=tmp_path / "data", timeout=30)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "VAERN_REDIS_URL" in lines[0]


def test_help_lists_every_command(tmp_path):
    result = vaern("--help", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Commands:", 1)[1]
    commands = {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert {"serve", "worker", "demo", "db", "unit", "user", "capture", "capture-file"} <= commands


def test_reindex_rebuilds_the_search_text_and_says_how_many_cases(tmp_path):
    from tests.support.factories import make_case, make_settings, make_unit, make_user
    from tests.support.database import new_runtime

    rt = new_runtime(make_settings(tmp_path))
    with rt.transaction() as s:
        make_case(s, make_user(s, "employee", make_unit(s)), description="Trusler i kommentarfeltet")
    rt.close()
    done = vaern("reindex", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK: the searchable text of 1 case(s) was rebuilt"
