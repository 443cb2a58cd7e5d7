"""The WACZ of a capture's WARC (tracker/packaging/wacz.py), built from a real capture of a fixture page by the real
capturer (Chromium behind the recording proxy), and the case package that carries it as capture.wacz.

py-wacz's own validator (``wacz validate -f``) is run when a ``wacz`` command is on PATH; it is not a project
dependency (it pulls in frictionless and its tree), so the test is skipped without it.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from warcio.archiveiterator import ArchiveIterator

from capture.engine import Capturer
from storage.models import Case, Role
from tests.support.engine_helpers import options_for
from tests.support.fixture_site import FixtureSite
from tests.support.factories import make_case, make_done_evidence, make_settings, make_unit, make_user
from tests.support.cli import vaern
from tests.support.database import new_runtime
from tracker.packaging.export import write_case_package
from tracker.packaging.wacz import build_wacz, surt


pytestmark = pytest.mark.browser

WACZ_FILES = {"archive/data.warc.gz", "indexes/index.cdx", "pages/pages.jsonl", "datapackage.json",
              "datapackage-digest.json"}


@dataclass
class Captured:
    requested: str
    main_url: str  #: where the redirect led: the page the WACZ opens on
    bundle: object
    warc: bytes
    wacz: bytes
    when: datetime


@pytest.fixture(scope="module")
def captured():
    """One real capture of a page reached through a redirect, and its WACZ."""
    with FixtureSite() as site, Capturer(options_for(site)) as capturer:
        url = site.url("/redirect")
        bundle = capturer.capture(url, operator="sagsbehandler@kommune.dk")
    warc = bundle.artifact("warc").data
    when = datetime.fromisoformat(bundle.manifest["started_at_utc"])
    main = bundle.manifest["final_url"]
    wacz = build_wacz(warc, title="Bevis 12: opslag", main_url=main, capture_time=when, software="Værn test")
    return Captured(url, main, bundle, warc, wacz, when)


def members(wacz: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(wacz)) as z:
        return {name: z.read(name) for name in z.namelist()}


def index_lines(wacz: bytes) -> list[tuple[str, str, dict]]:
    lines = members(wacz)["indexes/index.cdx"].decode("utf-8").splitlines()
    return [(key, ts, json.loads(fields)) for key, ts, fields in (line.split(" ", 2) for line in lines)]


@pytest.mark.parametrize(("url", "key"), [
    ("https://www.Example.com/A/b?z=1&a=2#frag", "com,example)/a/b?a=2&z=1"),
    ("http://example.org", "org,example)/"),
    ("https://www2.facebook.com:443/groups/123/posts/456/", "com,facebook)/groups/123/posts/456/"),
    ("http://sub.example.co.uk:8080/x?b=2&a=1&b=1", "uk,co,example,sub:8080)/x?a=1&b=2&b=1"),
    ("http://127.0.0.1:8000/facebook_post.html", "1,0,0,127:8000)/facebook_post.html"),
    ("https://wwwexample.dk/", "dk,wwwexample)/"),
    ("urn:pageinfo:https://example.org/", "urn:pageinfo:https://example.org/"),
])
def test_surt_keys_are_what_replay_tools_look_urls_up_by(url, key):
    assert surt(url) == key


def test_the_wacz_holds_the_capture_warc_byte_for_byte_and_the_wacz_files(captured):
    files = members(captured.wacz)
    assert set(files) == WACZ_FILES
    assert files["archive/data.warc.gz"] == captured.warc
    with zipfile.ZipFile(io.BytesIO(captured.wacz)) as z:
        assert z.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        *day_and_minute, second = captured.when.timetuple()[:6]
        assert {i.date_time for i in z.infolist()} == {(*day_and_minute, second - second % 2)}  # ZIP: 2 s steps


def test_the_datapackage_lists_every_file_with_its_sha256_and_size_and_the_digest_file_matches_it(captured):
    files = members(captured.wacz)
    package = json.loads(files["datapackage.json"])
    assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
    assert package["mainPageURL"] == captured.main_url and package["software"] == "Værn test"
    assert package["created"] == package["mainPageDate"] == captured.when.strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = {r["path"]: r for r in package["resources"]}
    assert set(listed) == WACZ_FILES - {"datapackage.json", "datapackage-digest.json"}
    for path, res in listed.items():
        assert res["name"] == path.rsplit("/", 1)[-1]
        assert res["hash"] == "sha256:" + hashlib.sha256(files[path]).hexdigest()
        assert res["bytes"] == len(files[path])
    digest = json.loads(files["datapackage-digest.json"])
    assert digest == {"path": "datapackage.json",
                      "hash": "sha256:" + hashlib.sha256(files["datapackage.json"]).hexdigest()}


def test_every_index_line_points_at_the_gzip_member_holding_that_url_with_that_payload_digest(captured):
    warc = members(captured.wacz)["archive/data.warc.gz"]
    raw = members(captured.wacz)["indexes/index.cdx"].decode("utf-8").splitlines()
    assert raw == sorted(raw)
    lines = index_lines(captured.wacz)
    responses = [r for r in ArchiveIterator(io.BytesIO(captured.warc)) if r.rec_type == "response"]
    assert len(lines) == len(responses) >= 2  # the redirect and the page at least; requests are not indexed
    for key, ts, fields in lines:
        start, length = int(fields["offset"]), int(fields["length"])
        member = io.BytesIO(warc[start:start + length])
        [(record, payload)] = [(r, r.raw_stream.read()) for r in ArchiveIterator(member)]
        assert record.rec_headers.get_header("WARC-Target-URI") == fields["url"]
        assert key == surt(fields["url"]) and fields["filename"] == "data.warc.gz"
        assert ts == "".join(c for c in record.rec_headers.get_header("WARC-Date") if c.isdigit())[:14]
        algorithm, value = fields["digest"].split(":", 1)
        assert algorithm == "sha1" and base64.b32encode(hashlib.sha1(payload).digest()).decode() == value
        assert fields["digest"] == record.rec_headers.get_header("WARC-Payload-Digest")
        assert fields["status"] == record.http_headers.get_statuscode()
    by_url = {fields["url"]: fields for _, _, fields in lines}
    assert by_url[captured.requested]["status"] == "302"
    assert by_url[captured.main_url]["status"] == "200" and by_url[captured.main_url]["mime"] == "text/html"


def test_pages_jsonl_has_its_header_then_the_main_page_at_the_capture_time(captured):
    header, *pages = [json.loads(line) for line in members(captured.wacz)["pages/pages.jsonl"].splitlines()]
    assert header == {"format": "json-pages-1.0", "id": "pages", "title": "Bevis 12: opslag"}
    [page] = pages
    assert page["url"] == captured.main_url and page["title"] == "Bevis 12: opslag"
    assert page["ts"] == captured.when.strftime("%Y-%m-%dT%H:%M:%SZ") and page["id"]


def test_the_same_warc_and_arguments_always_give_the_same_wacz_bytes(captured):
    again = build_wacz(captured.warc, title="Bevis 12: opslag", main_url=captured.main_url,
                       capture_time=captured.when, software="Værn test")
    assert again == captured.wacz


def test_py_wacz_validates_the_wacz(captured, tmp_path):
    tool = shutil.which("wacz")
    if tool is None:
        pytest.skip("py-wacz's `wacz` command is not on PATH (not a project dependency: it pulls in frictionless)")
    good, bad = tmp_path / "capture.wacz", tmp_path / "altered.wacz"
    good.write_bytes(captured.wacz)
    with zipfile.ZipFile(bad, "w") as z:  # the same WACZ with one line of pages.jsonl changed
        for name, data in members(captured.wacz).items():
            z.writestr(name, data.replace(b"Bevis 12", b"Bevis 13") if name == "pages/pages.jsonl" else data)
    verdicts = [subprocess.run([tool, "validate", "-f", str(p)], capture_output=True, text=True, timeout=120,
                               check=False)
                for p in (good, bad)]
    assert verdicts[0].returncode == 0, verdicts[0].stdout + verdicts[0].stderr
    assert "validation succeeded" in verdicts[0].stdout.lower()
    assert verdicts[1].returncode != 0 and "'pages.jsonl': [{'type': 'hash-count'" in verdicts[1].stdout


def test_an_exported_package_holds_capture_wacz_covered_by_sha256sums_and_still_verifies(captured, tmp_path):
    rt = new_runtime(make_settings(tmp_path / "data"))
    try:
        with rt.transaction() as s:
            employee = make_user(s, Role.employee, make_unit(s, "Jobcenter"))
            case = make_case(s, employee)
            case_id, employee_id = case.id, employee.id
        ev = make_done_evidence(rt, case_id, employee_id, url=captured.requested, bundle=captured.bundle)
        with rt.Session() as s:
            package = write_case_package(rt, s, s.get(Case, case_id), tmp_path / "out" / "pakke.zip",
                                         now=datetime(2026, 11, 26, 13, 5, tzinfo=UTC))
    finally:
        rt.close()
    with zipfile.ZipFile(package.path) as z:
        wacz = z.read(f"evidence/{ev}/capture.wacz")
        sums = dict(reversed(line.split("  ", 1)) for line in z.read("SHA256SUMS").decode().splitlines())
        readme = z.read("README.txt").decode("utf-8")
    assert sums[f"evidence/{ev}/capture.wacz"] == hashlib.sha256(wacz).hexdigest()
    assert members(wacz)["archive/data.warc.gz"] == captured.warc
    assert json.loads(members(wacz)["datapackage.json"])["mainPageURL"] == captured.main_url
    assert "capture.wacz" in readme and "replayweb.page" in readme and "genafspilning" in readme
    result = vaern("verify-package", str(package.path), data_dir=tmp_path / "unused")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"OK: {len(sums)} files verified")
