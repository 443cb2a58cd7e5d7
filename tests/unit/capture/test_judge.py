"""The status judgement as a pure function: every status from facts alone, no browser."""
from __future__ import annotations

import pytest

from capture.adapters import FACEBOOK, GENERIC, X
from capture.judge import POST_NOT_SEEN, STATUSES, Consent, Cover, Facts, Login, find_phrase, judge, same_site, site_of
from capture.wall_rules import consent_rules, login_rules

URL = "https://www.facebook.com/kommune.kritiker/posts/10234567890123456"


def facts(**kw) -> Facts:
    base = dict(submitted_url=URL, final_url=URL, chain=(URL,), http_status=200, post_found=True, text_chars=800,
                cover=Cover(viewport=0.0, post=0.0), same_site_hosts=FACEBOOK.hosts)
    base.update(kw)
    return Facts(**base)


def test_an_uncovered_page_on_the_submitted_site_is_ok():
    v = judge(facts())
    assert (v.status, v.reasons) == ("ok", ())


def test_a_same_site_redirect_and_a_platform_alias_stay_ok():
    assert judge(facts(final_url="https://m.facebook.com/story.php?story_fbid=1")).status == "ok"
    assert judge(facts(final_url="https://fb.com/x")).status == "ok"
    x = facts(submitted_url="https://twitter.com/a/status/1", final_url="https://x.com/a/status/1",
              same_site_hosts=X.hosts)
    assert judge(x).status == "ok"


def test_leaving_the_site_is_navigated_away_with_the_chain_in_the_reason():
    v = judge(facts(final_url="https://example.org/landing", chain=(URL, "https://example.org/landing")))
    assert v.status == "navigated_away"
    assert "left the submitted site (facebook.com)" in v.reasons[0] and "→ https://example.org/landing" in v.reasons[0]


def test_ending_on_the_block_page_is_blocked_by_policy_before_anything_else():
    v = judge(facts(final_url="http://10.0.0.5/", final_blocked="host resolves to non-public address 10.0.0.5",
                    consent=Consent(found="generic", clicks=("accept",))))
    assert v.status == "blocked_by_policy"
    assert "Værn's block page" in v.reasons[0]
    assert judge(facts(main_blocked="port 22 is not allowed", recorded=False)).status == "blocked_by_policy"


def test_nothing_recorded_is_failed_and_says_why():
    v = judge(facts(recorded=False))
    assert v.status == "failed" and "nothing could be captured" in v.reasons[-1]


def test_consent_outcomes_follow_what_was_clicked():
    rejected = judge(facts(consent=Consent(found="onetrust", clicks=("reject",))))
    assert rejected.status == "consent_dismissed"
    closed = judge(facts(consent=Consent(found="generic", clicks=("close",))))
    assert closed.status == "consent_dismissed"
    accepted = judge(facts(consent=Consent(found="generic", clicks=("reject", "accept"))))
    assert accepted.status == "consent_accepted" and "Værn accepted cookies" in accepted.reasons[-1]


def test_a_dialog_still_covering_the_post_is_consent_wall_never_ok_or_dismissed():
    stuck = facts(consent=Consent(found="generic", clicks=("reject", "accept"), still_visible=True),
                  cover=Cover(viewport=0.9, post=1.0, text="Vi bruger cookies"))
    v = judge(stuck)
    assert v.status == "consent_wall" and "after clicking reject, accept" in v.reasons[0]
    # a wall without any button (not even recognised as a consent dialog): measured coverage decides
    assert judge(facts(cover=Cover(viewport=1.0, post=1.0))).status == "consent_wall"
    # the post hidden under a smaller layer
    assert judge(facts(cover=Cover(viewport=0.1, post=0.5))).status == "consent_wall"
    # coverage could not be measured and the dialog stayed: never claimed uncovered
    assert judge(facts(consent=Consent(found="didomi", still_visible=True), cover=Cover())).status == "consent_wall"


def test_a_small_banner_that_stays_beside_the_post_is_ok_with_a_note():
    v = judge(facts(consent=Consent(found="generic", clicks=(), still_visible=True), cover=Cover(viewport=0.12, post=0.0)))
    assert v.status == "ok" and "stayed on the page but covered 12 % of the visible content and 0 % of the post" in v.reasons[0]


def test_login_walls_by_address_overlay_wording_and_a_200_login_page():
    assert judge(facts(login=Login(login_url="https://www.facebook.com/login/?next=x"))).status == "login_wall"
    assert judge(facts(login=Login(password=True, password_in_overlay=True))).status == "login_wall"
    page = judge(facts(post_found=False, text_chars=200, login=Login(password=True, phrase="Log ind for at se opslaget")))
    assert page.status == "login_wall" and "HTTP 200 served a login page instead of the post" in page.reasons[0]
    no_password = judge(facts(post_found=False, text_chars=150, login=Login(phrase="Log in to see this post")))
    assert no_password.status == "login_wall"
    # the wording alone on a long page that shows the post is not a wall (a sidebar "log in to see more")
    assert judge(facts(text_chars=9000, login=Login(phrase="Log in to see"))).status == "ok"
    assert judge(facts(http_status=403, login=Login(password=True))).status == "login_wall"


def test_http_errors_not_found_and_order_of_seriousness():
    assert judge(facts(http_status=500)).reasons == ("the server answered HTTP 500",)
    assert judge(facts(http_status=500)).status == "failed"
    assert judge(facts(http_status=404, not_found="HTTP 404")).status == "not_found"
    both = judge(facts(not_found="HTTP 404", timed_out="time cap", cover=Cover(viewport=1.0, post=1.0)))
    assert both.status == "not_found" and len(both.reasons) == 3
    assert judge(facts(timed_out="the page did not finish loading")).status == "timed_out"
    assert judge(facts(missing=("warc",))).status == "failed"
    cut = judge(facts(truncated="cut at 40000 px", consent=Consent(found="generic", clicks=("reject",))))
    assert cut.status == "truncated"
    accepted_and_cut = facts(truncated="cut", consent=Consent(found="generic", clicks=("accept",)))
    assert judge(accepted_and_cut).status == "consent_accepted", "how the content was reached outranks its length"


def test_every_status_is_known_and_ok_never_hides_an_unseen_post():
    assert set(POST_NOT_SEEN) < set(STATUSES) and "ok" not in POST_NOT_SEEN


@pytest.mark.parametrize("url, site", [("https://www.facebook.com/x", "facebook.com"), ("http://127.0.0.1:8/a", "127.0.0.1"),
                                       ("https://a.b.example.co.uk/", "example.co.uk"), ("http://foo.test/", "foo.test"),
                                       ("http://[::1]:80/", "::1")])
def test_sites(url, site):
    assert site_of(url) == site


def test_same_site_ignores_ports_and_subdomains_but_not_lookalikes():
    assert same_site("http://127.0.0.1:1/a", "http://127.0.0.1:2/b")
    assert same_site("https://www.dr.dk/", "https://dr.dk/nyheder")
    assert not same_site("https://facebook.com/", "https://facebook.com.evil.example/")


def test_the_rules_files_load_and_phrases_match_case_insensitively():
    rules = consent_rules()
    assert {c.name for c in rules.cmps} >= {"onetrust", "didomi", "cookiebot"}
    assert rules.reject_labels and rules.close_labels and rules.accept_labels
    generic = login_rules("generic")
    assert "Log ind for at se opslaget" in generic.phrases and "Log in to Facebook" in generic.phrases
    assert GENERIC.login_texts == generic.phrases
    assert find_phrase("LOG IND FOR AT SE OPSLAGET her", generic.phrases) == "Log ind for at se opslaget"
    assert find_phrase("Intet her", generic.phrases) is None
    assert "Log ind på Facebook" in FACEBOOK.login_texts and "/login.php" in FACEBOOK.login_paths


def test_an_unmeasured_cover_is_said_in_the_notes():
    v = judge(facts(cover=Cover()))
    assert v.status == "ok" and v.reasons == ("whether a layer covered the page could not be measured (see the actions)",)
