"""Honest capture statuses against real pages (real Chromium, real egress proxy, real HTTP on 127.0.0.1).

Consent dialogs that can be rejected, only accepted, closed, not closed at all, or that stay after the
click; a login page served with HTTP 200; pages that move on by themselves (meta refresh, script) to
another site or to an address the egress policy blocks.
"""
from __future__ import annotations

from urllib.parse import quote

import pytest

from capture.engine import Capturer
from tests.support.engine_helpers import count_colour, options_for, png
from tests.support.fixture_site import FixtureSite

pytestmark = pytest.mark.browser

ORANGE = (255, 120, 0)  #: the consent box's top border in the consent_*.html pages
GREEN = (34, 139, 34)  #: the post's photo


@pytest.fixture(scope="module")
def other_site():
    """A second site (another loopback address) the proxy may reach."""
    with FixtureSite("127.0.0.2") as site:
        yield site


@pytest.fixture(scope="module")
def capturer(fixture_site, other_site):
    allowed = (("127.0.0.1", fixture_site.port), ("127.0.0.2", other_site.port))
    with Capturer(options_for(fixture_site, allowed_hosts=allowed)) as c:
        yield c


def actions(bundle, step):
    return [a["detail"] for a in bundle.manifest["actions"] if a["step"] == step]


def test_a_dialog_that_can_only_be_accepted_is_consent_accepted_and_says_so(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/consent_accept_only.html"), operator="tester")

    assert bundle.status == "consent_accepted"
    (click,) = actions(bundle, "consent")
    assert click.startswith("clicked accept button 'Accepter alle cookies'")
    assert any("Værn accepted cookies" in n for n in bundle.manifest["notes"])
    assert count_colour(png(bundle.artifact("screenshot_wall").data), ORANGE) > 50
    assert count_colour(png(bundle.artifact("screenshot_full").data), ORANGE) == 0
    assert count_colour(png(bundle.artifact("screenshot_post").data), GREEN) > 50


def test_a_dialog_closed_without_consenting_is_consent_dismissed(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/consent_close.html"), operator="tester")

    assert bundle.status == "consent_dismissed"
    (click,) = actions(bundle, "consent")
    assert click.startswith("clicked close button '×'") and "in the dialog" in click
    assert count_colour(png(bundle.artifact("screenshot_full").data), ORANGE) == 0


def test_a_cookie_wall_with_no_button_is_consent_wall_measured_in_the_page(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/consent_no_button.html"), operator="tester")

    assert bundle.status == "consent_wall"
    assert not [d for d in actions(bundle, "consent") if d.startswith("clicked")]
    (cover,) = actions(bundle, "cover")
    assert "100 % of the visible content" in cover and "100 % of the post" in cover
    assert any("overlay still covers 100 % of the visible content" in n and "no button" in n for n in bundle.manifest["notes"])
    assert count_colour(png(bundle.artifact("screenshot_full").data), ORANGE) > 50


def test_a_dialog_that_stays_after_the_clicks_is_consent_wall_never_ok(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/consent_sticky.html"), operator="tester")

    assert bundle.status == "consent_wall"
    clicks = [d for d in actions(bundle, "consent") if d.startswith("clicked")]
    assert [c.split()[1] for c in clicks] == ["reject", "accept"], "reject first, accept only as the last resort"
    assert any("still shown after the accept click" in d for d in actions(bundle, "consent"))
    assert any("after clicking reject, accept" in n for n in bundle.manifest["notes"])


def test_a_login_page_served_with_http_200_is_login_wall(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/login_200.html"), operator="tester")

    assert bundle.status == "login_wall"
    assert bundle.manifest["http"]["status"] == 200
    assert bundle.manifest["post"]["text_excerpt"] is None
    assert any("HTTP 200 served a login page instead of the post" in n and "Log ind for at se opslaget" in n
               for n in bundle.manifest["notes"])


def test_a_short_login_page_without_a_password_field_is_login_wall_too(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/login_link.html"), operator="tester")

    assert bundle.status == "login_wall"
    assert any("Log in to see this post" in n for n in bundle.manifest["notes"])


@pytest.mark.parametrize("how", ["meta", "js"])
def test_a_page_that_moves_on_to_another_site_is_navigated_away_with_the_chain(capturer, fixture_site, other_site,
                                                                             how):
    target = other_site.url("/plain_post.html")
    url = fixture_site.url(f"/go/{how}?to={quote(target, safe='')}")
    bundle = capturer.capture(url, operator="tester")

    assert bundle.status == "navigated_away"
    m = bundle.manifest
    assert m["final_url"] == target
    assert [(h["url"], h["via"], h["status"]) for h in m["navigation_chain"]] == [(url, "submitted", 200),
                                                                                  (target, "page", 200)]
    assert any("left the submitted site (127.0.0.1)" in n for n in m["notes"])
    assert "Bjørn Ødegård" in bundle.artifact("text").data.decode("utf-8"), "the files show where it ended"


@pytest.mark.parametrize("how", ["meta", "js"])
@pytest.mark.parametrize("scheme", ["http", "https"])  # https: the proxy refuses the tunnel, Chromium shows an error
def test_a_page_that_moves_on_to_a_blocked_address_is_blocked_by_policy_never_ok(capturer, fixture_site, how, scheme):
    target = f"{scheme}://127.0.0.3:{fixture_site.port}/plain_post.html"  # loopback, not allow-listed
    bundle = capturer.capture(fixture_site.url(f"/go/{how}?to={quote(target, safe='')}"), operator="tester")

    assert bundle.status == "blocked_by_policy"
    m = bundle.manifest
    assert m["final_url"] == target
    assert m["navigation_chain"][-1]["via"] == "page" and m["navigation_chain"][-1]["blocked"]
    assert any(b["host"] == "127.0.0.3" for b in m["blocked_requests"])
    assert any("Værn's block page" in n for n in m["notes"])
    assert not any("failed" in n or "while it was being recorded" in n for n in m["notes"]), m["notes"]
    assert "Bjørn Ødegård" not in bundle.artifact("text").data.decode("utf-8")


def test_a_same_site_move_keeps_ok_and_the_chain(capturer, fixture_site):
    url = fixture_site.url("/go/js?to=/plain_post.html")
    bundle = capturer.capture(url, operator="tester")

    assert bundle.status == "ok"
    assert [h["via"] for h in bundle.manifest["navigation_chain"]] == ["submitted", "page"]
    assert bundle.manifest["final_url"] == fixture_site.url("/plain_post.html")
    (cover,) = actions(bundle, "cover")
    assert "0 % of the visible content" in cover and "0 % of the post" in cover


def test_fixed_menus_side_rails_and_a_fixed_background_beside_the_post_are_not_a_wall(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/fixed_layout.html"), operator="tester")

    assert bundle.status == "ok", bundle.manifest["notes"]
    (cover,) = actions(bundle, "cover")
    assert "0 % of the post" in cover
