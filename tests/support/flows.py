"""Shared steps of the flow tests: a fresh employee, a logged-in test client of the real app, openssl's
verdict on a timestamp token."""
from __future__ import annotations

import re
import subprocess

from storage.models import Role
from tests.support.factories import PASSWORD, make_unit, make_user
from tests.support.tsa import LocalTSA
from webui.app import create_app


def employee(rt) -> str:
    """A fresh employee in a fresh unit; returns the e-mail (the password is the factories' PASSWORD)."""
    with rt.transaction() as s:
        return make_user(s, Role.employee, make_unit(s)).email


def logged_in_client(rt, email: str):
    """A test client of the real app over ``rt`` (CSRF off: the form is posted directly), logged in as ``email``."""
    app = create_app(runtime=rt)
    app.config.update(WTF_CSRF_ENABLED=False)
    client = app.test_client()
    resp = client.post("/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def shown_image(html: str) -> str:
    """The src of the case page's evidence image."""
    match = re.search(r'<img class="shot" src="([^"]+)"', html)
    assert match, "the case page shows no evidence image"
    return match.group(1)


def openssl_verify(manifest: bytes, tsr: bytes, tsa: LocalTSA, tmp_path) -> subprocess.CompletedProcess:
    (tmp_path / "manifest.json").write_bytes(manifest)
    (tmp_path / "manifest.tsr").write_bytes(tsr)
    return subprocess.run(["openssl", "ts", "-verify", "-data", str(tmp_path / "manifest.json"),
                           "-in", str(tmp_path / "manifest.tsr"), "-CAfile", tsa.ca_file,
                           "-untrusted", tsa.tsa_cert_file], capture_output=True, text=True, timeout=60)
