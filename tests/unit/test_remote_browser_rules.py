"""The remote browser's pure rules (issue 14): which keys it forwards, the hosts a login page suggests, and the
audit sentence of a profile saved from a login."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from capture.remote import key_allowed
from tracker.oversight.event_text_other import _capture_profile
from webui.remote_profiles import default_hosts


@pytest.mark.parametrize("key, allowed", [
    ("Enter", True), ("Tab", True), ("Shift+Tab", True), ("Control+a", True), ("Control+Shift+ArrowLeft", True),
    ("a", False),  # a character goes as text, not as a key press
    ("Hemmelig", False), ("Super+a", False), ("Control+", False), ("", False),
])
def test_only_named_keys_and_modified_characters_are_pressed(key, allowed):
    assert key_allowed(key) is allowed


@pytest.mark.parametrize("url, hosts", [
    ("https://www.facebook.com/login", "www.facebook.com"),
    ("http://127.0.0.1:8081/login?next=/x", "127.0.0.1:8081"),
    ("https://X.com:443/i/flow/login", "x.com"),
    ("http://[::1", ""),
])
def test_the_login_page_suggests_its_own_host(url, hosts):
    assert default_hosts(url) == hosts


def test_the_audit_log_says_a_profile_came_from_a_login_in_the_remote_browser():
    details = {"name": "facebook-team", "account": "Team Digital", "hosts": ["facebook.com"], "cookies": 3,
               "replaced": False, "via": "remote_browser"}
    da, en = _capture_profile(details, SimpleNamespace(action="profile.import"), None)
    assert da == ("Capture-profilen «facebook-team» (Team Digital) blev gemt fra et login i Værns fjernbrowser "
                  "for facebook.com (3 cookies).")
    assert "saved from a login in Værn's remote browser" in en
