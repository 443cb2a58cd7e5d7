"""Single sign-on in Chromium against a real OpenID Connect provider on 127.0.0.1 (oidc-provider-mock, started
here): the authorization code flow with PKCE, accounts made and updated just in time from the role map, no
account without a role, a changed role that ends older sessions, tampered and replayed ID tokens refused, the
provider's logout, VAERN_LOCAL_LOGIN=false, and the admin page's SSO status — each audited."""
from __future__ import annotations

import json
import re
import urllib.request

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Role, User
from tests.support.browser import (assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, new_page,
                                   open_browser, screenshot, served)
from tests.support.factories import PASSWORD, make_unit, make_user
from tests.support.oidc import CLIENT_ID, CLIENT_SECRET, provider
from webui.app import create_app

pytestmark = pytest.mark.browser
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')

ROLE_MAP = "vaern-leder-jc=leader@Jobcenter;vaern-ansat-jc=employee@Jobcenter;vaern-hr=hr;vaern-admin=admin"
LEADER = {"sub": "u-lis-1", "name": "Lis Leder", "email": "Lis.Leder@kommune.dk",
          "roles": ["andet", "vaern-leder-jc"]}
NOBODY = {"sub": "u-ole-2", "name": "Ole Udenfor", "email": "ole@kommune.dk", "roles": ["kantine"]}
ADMIN = {"sub": "u-ada-3", "name": "Ada Admin", "email": "ada@kommune.dk", "roles": ["vaern-admin"]}


def _set_user(issuer: str, person: dict) -> None:
    """Change what the provider says about a person (its PUT /users/{sub})."""
    claims = {k: v for k, v in person.items() if k != "sub"}
    req = urllib.request.Request(f"{issuer}/users/{person['sub']}", data=json.dumps(claims).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as answer:
        assert answer.status == 204


def _sign_in(page, base: str, sub: str, login: str = "/login") -> None:
    """Værn's button, then the provider's page (type the subject, authorize): back at Værn."""
    page.goto(f"{base}{login}")
    page.get_by_role("button", name="Log ind med kommunens konto").click()
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


class Site:
    def __init__(self, make_runtime, issuer: str, **overrides):
        self.rt = make_runtime(oidc_issuer=issuer, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET,
                               oidc_role_map=ROLE_MAP, **overrides)
        with self.rt.transaction() as s:
            make_unit(s, "Jobcenter")
        self.app = create_app(runtime=self.rt)

    def user(self, sub: str) -> User | None:
        with self.rt.Session() as s:
            user = s.execute(select(User).where(User.oidc_subject == sub)).scalar()
            if user is not None:
                s.expunge(user)
            return user

    def audit(self, action: str) -> list[dict]:
        with self.rt.Session() as s:
            return [dict(e.details or {}, actor_id=e.actor_id) for e in
                    s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()]


def test_a_person_signs_in_with_the_municipality_account_and_gets_the_role_the_map_gives(make_runtime):
    with provider(LEADER, NOBODY, ADMIN) as (issuer, tamper), open_browser() as browser:
        site = Site(make_runtime, issuer)
        with served(site.app) as base:
            for name, page in each_viewport(browser):
                page.goto(f"{base}/login")
                assert_no_serious_axe_findings(page, f"login page with single sign-on ({name})")
                assert_fits_the_width(page, name)
                screenshot(page, f"sso-login-{name}")

            page = new_page(browser)
            _sign_in(page, base, LEADER["sub"], login="/login?next=/account/password")
            page.wait_for_url(f"{base}/account/password")  # where she was going before the login
            lis = site.user(LEADER["sub"])
            assert (lis.email, lis.name, lis.role, lis.oidc_issuer) == ("lis.leder@kommune.dk", "Lis Leder",
                                                                        Role.leader, issuer)
            assert site.audit("user.create")[-1]["via"] == "sso"
            assert site.audit("auth.login")[-1] == {"via": "sso", "actor_id": lis.id}
            # PKCE: the verifier Værn sent with the code hashes (S256) to the challenge of its authorization request
            assert tamper.pkce_checked == 1
            page.goto(f"{base}/account/password")
            assert page.locator("#sso-account").is_visible()

            # the provider makes Lis HR: at her next sign-in (another browser) the account follows and the
            # session under the old role ends
            _set_user(issuer, dict(LEADER, roles=["vaern-hr"], name="Lis Leder-Hansen"))
            old, page = page, new_page(browser)
            _sign_in(page, base, LEADER["sub"])
            page.wait_for_url(f"{base}/")
            lis = site.user(LEADER["sub"])
            assert (lis.role, lis.unit_id, lis.name) == (Role.hr, None, "Lis Leder-Hansen")
            changes = site.audit("user.update")[-1]["changes"]
            assert changes["role"] == ["leader", "hr"] and changes["unit"] == ["Jobcenter", None]
            old.goto(f"{base}/")
            assert old.url.startswith(f"{base}/login"), "the session under the old role goes on"
            page.goto(f"{base}/")
            assert not page.url.startswith(f"{base}/login")

            # logout ends the session at the provider too (its end_session_endpoint), then back to Værn
            page.get_by_role("button", name="Log ud").click()
            page.wait_for_url(f"{issuer}/oauth2/end_session?**")
            assert "id_token_hint=" in page.url and f"client_id={CLIENT_ID}" in page.url
            page.get_by_role("button", name="End session").click()
            page.wait_for_url(f"{base}/login")
            page.goto(f"{base}/")
            assert page.url.startswith(f"{base}/login")
            old.context.close()
            page.context.close()


def test_a_person_whose_claims_map_to_no_role_gets_no_account(make_runtime):
    with provider(LEADER, NOBODY) as (issuer, tamper), open_browser() as browser:
        site = Site(make_runtime, issuer)
        with served(site.app) as base:
            for name, page in each_viewport(browser):
                _sign_in(page, base, NOBODY["sub"])
                page.get_by_role("heading", name="Du har ikke adgang til Værn").wait_for()
                assert page.locator("#sso-refused").get_attribute("data-reason") == "no_role"
                assert_no_serious_axe_findings(page, f"no access ({name})")
                assert_fits_the_width(page, name)
                screenshot(page, f"sso-no-role-{name}")
                page.goto(f"{base}/")
                assert page.url.startswith(f"{base}/login")
            assert site.user(NOBODY["sub"]) is None
            refused = site.audit("auth.sso_refused")
            assert [r["reason"] for r in refused] == ["no_role", "no_role"]
            assert refused[0]["email"] == "ole@kommune.dk" and refused[0]["actor_id"] is None

            # a person who had a role and lost it: refused, and the session they had ends
            page = new_page(browser)
            _sign_in(page, base, LEADER["sub"])
            page.wait_for_url(f"{base}/")
            _set_user(issuer, dict(LEADER, roles=["andet"]))
            other = new_page(browser)
            _sign_in(other, base, LEADER["sub"])
            other.get_by_role("heading", name="Du har ikke adgang til Værn").wait_for()
            page.goto(f"{base}/")
            assert page.url.startswith(f"{base}/login")
            assert site.user(LEADER["sub"]).role is Role.leader  # the account stays (the audit log names it)
            page.context.close()
            other.context.close()


@pytest.mark.parametrize("mode", ["pkce", "claims", "unsigned", "replay", "expired", "audience", "issuer"])
def test_a_tampered_replayed_expired_or_misaddressed_id_token_signs_nobody_in(make_runtime, mode):
    with provider(LEADER, ADMIN) as (issuer, tamper), open_browser() as browser:
        site = Site(make_runtime, issuer)
        with served(site.app) as base:
            page = new_page(browser)
            if mode == "replay":  # a first, honest sign-in gives the token to replay later
                _sign_in(page, base, LEADER["sub"])
                page.wait_for_url(f"{base}/")
                page.context.close()
                page = new_page(browser)
            tamper.mode = mode
            _sign_in(page, base, LEADER["sub"])
            page.locator("#login-error").wait_for()
            assert "Det lykkedes ikke at logge ind med din kommunale konto" in page.locator("#login-error").inner_text()
            screenshot(page, f"sso-tampered-{mode}")
            # the password form on this page (shown at the callback's address) still goes to the login
            assert page.locator("form[novalidate]").get_attribute("action") == "/login"
            page.goto(f"{base}/")
            assert page.url.startswith(f"{base}/login")
            failed = site.audit("auth.sso_failed")
            assert len(failed) == 1 and failed[0]["issuer"] == issuer, failed
            reason = failed[0]["reason"]
            expected = {"pkce": "invalid_grant", "claims": "bad_signature", "unsigned": "unsupported_algorithm",
                        "replay": "Invalid claim 'nonce'", "expired": "expired_token",
                        "audience": "Invalid claim 'aud'", "issuer": "Invalid claim 'iss'"}[mode]
            assert expected in reason, reason
            with site.rt.Session() as s:
                assert s.execute(select(User).where(User.role == Role.admin)).first() is None
            page.context.close()


def test_without_local_login_only_the_provider_signs_in_and_the_admin_sees_the_mapping(make_runtime):
    with provider(ADMIN) as (issuer, tamper), open_browser() as browser:
        site = Site(make_runtime, issuer, local_login=False)
        with site.rt.transaction() as s:
            make_user(s, Role.hr, None, email="lokal@kommune.dk")
        with served(site.app) as base:
            page = new_page(browser)
            page.goto(f"{base}/login")
            assert page.get_by_label("Adgangskode").count() == 0
            _sign_in(page, base, ADMIN["sub"])
            page.wait_for_url(f"{base}/**")
            page.goto(f"{base}/admin/sso")
            status = page.locator("#sso-status")
            assert issuer in status.inner_text() and CLIENT_ID in status.inner_text()
            rows = page.locator("#sso-mapping tbody tr")
            assert rows.count() == 4
            assert "vaern-leder-jc" in rows.nth(0).inner_text() and "Jobcenter" in rows.nth(0).inner_text()
            assert_no_serious_axe_findings(page, "admin SSO page")
            screenshot(page, "sso-admin")
            # the admin's own account came from the provider: no password to make on its page
            ada = site.user(ADMIN["sub"])
            page.goto(f"{base}/admin/users/{ada.id}")
            assert page.locator("#sso-user").is_visible()
            assert page.locator(f"form[action='/admin/users/{ada.id}/password']").count() == 0
            assert_no_serious_axe_findings(page, "admin page of an SSO user")
            page.context.close()
        client = site.app.test_client()
        token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
        refused = client.post("/login", data={"csrf_token": token, "email": "lokal@kommune.dk", "password": PASSWORD})
        assert refused.status_code == 404  # VAERN_LOCAL_LOGIN=false: the password is not even looked at
