"""Issue 11: sessions that end, safe redirects, throttling without lockout, strong passwords, API token expiry.

Through the real Flask app on a real SQLite database; times moved with time-machine.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from storage.models import ApiToken, AuditEvent, Role, User
from tests.support.factories import PASSWORD, make_settings, make_unit, make_user
from tests.support.database import new_runtime
from tracker.accounts import throttle
from tracker.errors import DomainError
from tracker.accounts.passwords import check_password
from tracker.adapters.runtime import Runtime
from tracker.accounts.tokens import authenticate_token, create_token
from webui.app import create_app

START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


class Site:
    """One Værn with an admin, HR and an employee; CSRF off so the tests post forms directly."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter")
            self.unit_id = unit.id
            self.other_unit_id = make_unit(s, "Borgerservice").id
            self.admin = make_user(s, Role.admin, None, email="ada@kommune.dk", name="Ada Admin").id
            self.employee = make_user(s, Role.employee, unit, email="eva@kommune.dk", name="Eva Ansat").id
            self.hr = make_user(s, Role.hr, None, email="hanne@kommune.dk", name="Hanne HR").id

    def login(self, email: str, password: str = PASSWORD, address: str = "127.0.0.1", **kw):
        client = self.app.test_client()
        resp = client.post("/login", data={"email": email, "password": password},
                           environ_base={"REMOTE_ADDR": address}, **kw)
        return client, resp

    def client(self, email: str):
        client, resp = self.login(email)
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    def user(self, user_id: int) -> User:
        with self.rt.Session() as s:
            return s.get(User, user_id)


@pytest.fixture
def site(tmp_path):
    rt = new_runtime(make_settings(tmp_path))
    yield Site(rt)
    rt.close()


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("auth")))
    yield Site(rt)
    rt.close()


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


# -- 1. redirects -----------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0D%0A/x", "//evil.example/", "/\\evil.example",
                                    "https://evil.example/", "/%5Cevil.example", "javascript:alert(1)",
                                    "/\t/evil.example", "/ /evil.example", "/../evil", "/cases/../..//evil.example",
                                    "http:/evil.example", "/%E2%80%A8", "/nowhere-in-vaern"])
def test_a_next_value_that_is_not_a_page_of_vaern_goes_to_the_start_page(shared_site, target):
    _, resp = shared_site.login("eva@kommune.dk", query_string=f"next={target}" if "%" in target else {"next": target})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_a_next_value_that_is_a_page_of_vaern_is_kept_with_its_query(shared_site):
    _, resp = shared_site.login("eva@kommune.dk", query_string={"next": "/report?x=1"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/report?x=1"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.one_of(st.text(), st.text().map(lambda t: "/" + t), st.text().map(lambda t: "//" + t),
                        st.text(alphabet="/\\\t\r\n%:.@?#ab0 ").map(lambda t: "/" + t)))
def test_no_next_value_gives_an_error_or_leaves_vaern(shared_site, target):
    client = shared_site.app.test_client()
    resp = client.post("/login", query_string={"next": target},
                       data={"email": "nobody@kommune.dk", "password": "x"})  # refused: no login is needed
    assert resp.status_code < 500
    # the check itself, as a logged-in redirect would use it
    with shared_site.app.test_request_context():
        from webui.redirects import safe_target

        location = safe_target(target, "/")
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert all(0x21 <= ord(c) < 0x7F for c in location)


# -- 2. sessions that end ---------------------------------------------------------------------------
def replay(site: Site, client) -> bool:
    """Copy the client's session cookie into a fresh client (as a thief would) and see if it works."""
    cookie = client.get_cookie("session")
    thief = site.app.test_client()
    thief.set_cookie("session", cookie.value)
    return logged_in(thief)


def test_an_old_session_cookie_replayed_after_logout_gets_the_login_page(site):
    client = site.client("eva@kommune.dk")
    other_device = site.client("eva@kommune.dk")
    assert replay(site, client)
    saved = client.get_cookie("session").value
    assert client.post("/logout").status_code == 302
    thief = site.app.test_client()
    thief.set_cookie("session", saved)
    resp = thief.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert not logged_in(other_device)  # logging out ends every session of the user


@pytest.mark.parametrize("change", ["password_reset", "role", "unit", "deactivate"])
def test_an_administrators_change_ends_every_session_of_the_user(site, change):
    victim = site.client("eva@kommune.dk")
    admin = site.client("ada@kommune.dk")
    assert logged_in(victim)
    form = {"name": "Eva Ansat", "role": "employee", "unit": str(site.unit_id), "active": "1"}
    if change == "password_reset":
        resp = admin.post(f"/admin/users/{site.employee}/password")
        assert resp.status_code == 200
    else:
        form.update({"role": {"role": "leader"}, "unit": {"unit": str(site.other_unit_id)},
                     "deactivate": {"active": ""}}[change])
        assert admin.post(f"/admin/users/{site.employee}", data=form).status_code == 302
    resp = victim.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert logged_in(admin)  # the administrator's own session is untouched


def test_a_name_change_does_not_end_the_session(site):
    victim = site.client("eva@kommune.dk")
    admin = site.client("ada@kommune.dk")
    form = {"name": "Eva Ansat-Holm", "role": "employee", "unit": str(site.unit_id), "active": "1"}
    assert admin.post(f"/admin/users/{site.employee}", data=form).status_code == 302
    assert logged_in(victim)


def test_a_session_ends_after_the_idle_time_and_after_the_absolute_time(site):
    with time_machine.travel(START, tick=False) as clock:
        client = site.client("eva@kommune.dk")
        clock.shift(timedelta(hours=7, minutes=59))
        assert logged_in(client)  # used again: the idle clock starts over
        clock.shift(timedelta(hours=7, minutes=59))
        assert logged_in(client)
        clock.shift(timedelta(hours=8, minutes=1))
        resp = client.get("/")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
        assert "Du er blevet logget ud" in client.get("/login").get_data(as_text=True)

        client = site.client("eva@kommune.dk")
        login_at = datetime.now(timezone.utc)
        for _ in range(7 * 24 // 6):  # busy all week, never idle: alive up to the 7 days
            clock.shift(timedelta(hours=6))
            assert logged_in(client), datetime.now(timezone.utc) - login_at
        clock.shift(timedelta(minutes=1))
        assert datetime.now(timezone.utc) - login_at > timedelta(days=7)
        assert not logged_in(client)


def test_the_session_times_are_settings(tmp_path):
    rt = new_runtime(make_settings(tmp_path, session_idle_hours=1, session_max_days=1))
    try:
        with rt.transaction() as s:
            make_user(s, Role.hr, None, email="hr@kommune.dk")
        site = Site.__new__(Site)
        site.rt, site.app = rt, create_app(runtime=rt)
        site.app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
        with time_machine.travel(START, tick=False) as clock:
            client = site.client("hr@kommune.dk")
            clock.shift(timedelta(minutes=61))
            assert not logged_in(client)
    finally:
        rt.close()


def test_changing_ones_own_password_keeps_this_session_and_ends_every_other(site):
    here, elsewhere = site.client("eva@kommune.dk"), site.client("eva@kommune.dk")
    form = {"current": PASSWORD, "new": "vinduer-og-blå-døre", "repeat": "vinduer-og-blå-døre"}
    resp = here.post("/account/password", data={**form, "current": "forkert-kode"})
    assert resp.status_code == 400 and "nuværende adgangskode er forkert" in resp.get_data(as_text=True)
    resp = here.post("/account/password", data={**form, "new": "1234567890", "repeat": "1234567890"})
    assert resp.status_code == 400 and "for almindelig" in resp.get_data(as_text=True)
    assert logged_in(elsewhere)  # nothing changed yet
    resp = here.post("/account/password", data=form)
    assert resp.status_code == 302
    assert "logget ud alle andre steder" in here.get("/").get_data(as_text=True)
    assert logged_in(here) and not logged_in(elsewhere)
    assert site.login("eva@kommune.dk")[1].status_code == 401
    assert site.login("eva@kommune.dk", "vinduer-og-blå-døre")[1].status_code == 302


# -- 4. throttling without lockout --------------------------------------------------------------------
def test_ten_wrong_passwords_from_ten_addresses_do_not_lock_the_real_user_out(site):
    for i in range(10):
        _, resp = site.login("eva@kommune.dk", "forkert-kode-" + str(i), address=f"198.51.100.{i}")
        assert resp.status_code == 401
    client, resp = site.login("eva@kommune.dk", address="10.1.2.3")
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "10 mislykkede loginforsøg" in page  # told once, at this login
    assert "mislykkede loginforsøg" not in client.get("/").get_data(as_text=True)
    assert site.user(site.employee).failed_logins == 0


def test_wrong_passwords_from_one_address_get_growing_delays_not_a_lock(site):
    address = "203.0.113.7"
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):  # the free attempts
            assert site.login("eva@kommune.dk", "forkert", address=address)[1].status_code == 401
        waits = []
        for _ in range(4):
            _, resp = site.login("eva@kommune.dk", PASSWORD, address=address)
            assert resp.status_code == 429  # even the right password waits: the delay says nothing
            waits.append(int(resp.headers["Retry-After"]))
            assert "Vent" in resp.get_data(as_text=True)
            clock.shift(timedelta(seconds=waits[-1]))
            assert site.login("eva@kommune.dk", "forkert", address=address)[1].status_code == 401
        assert waits == [1, 2, 4, 8]
        # meanwhile the same user from another address is not slowed down at all
        assert site.login("eva@kommune.dk", PASSWORD, address="10.0.0.1")[1].status_code == 302
        clock.shift(timedelta(seconds=16))
        assert site.login("eva@kommune.dk", PASSWORD, address=address)[1].status_code == 302


def test_many_accounts_guessed_from_one_address_slow_that_address_down(site):
    with time_machine.travel(START, tick=False):
        codes = [site.login(f"gaet{i}@kommune.dk", "forkert-kode", address="192.0.2.9")[1].status_code
                 for i in range(21)]
        assert codes == [401] * 20 + [429]
        assert site.login("eva@kommune.dk", PASSWORD, address="192.0.2.10")[1].status_code == 302


def test_the_delay_grows_to_fifteen_minutes_and_no_further():
    assert [throttle.delay_after(n, 5).total_seconds() for n in (0, 4, 5, 6, 10, 14, 15, 40, 10**6)] == \
        [0, 0, 1, 2, 32, 512, 900, 900, 900]


# -- 5. passwords -------------------------------------------------------------------------------------
@pytest.mark.parametrize("password, role, code", [
    ("1234567890", Role.employee, "password_common"),
    ("password1234", Role.employee, "password_common"),
    ("qwertyuiop12", Role.employee, "password_common"),
    ("kodeord12345", Role.employee, "password_common"),
    ("aaaaaaaaaaaa", Role.employee, "password_common"),
    ("elevenchars", Role.admin, "password_short"),
    ("elevenchars", Role.hr, "password_short"),
    ("hannehansen-kat", Role.employee, "password_personal"),
    ("Hansen!Vinduer!Blaa", Role.leader, "password_personal"),
    ("x" * 1001, Role.employee, "password_long"),
])
def test_weak_short_and_personal_passwords_are_refused(password, role, code):
    with pytest.raises(DomainError) as err:
        check_password(password, role=role, email="hanne.hansen@kommune.dk", name="Hanne Hansen")
    assert err.value.code == code


@pytest.mark.parametrize("password, role", [(PASSWORD, Role.admin), ("tre-bl\u00e5-tr\u00e6er", Role.employee)])
def test_the_test_passwords_pass_the_policy(password, role):
    check_password(password, role=role, email="ada@kommune.dk", name="Ada Admin")


def test_the_demo_password_passes_the_policy_for_every_demo_user():
    from tracker.adapters.demo import DEMO_PASSWORD, DEMO_USERS

    for email, name, role, _unit in DEMO_USERS:
        check_password(DEMO_PASSWORD, role=role, email=email, name=name)


def test_the_admin_page_refuses_a_common_password_in_danish(site):
    admin = site.client("ada@kommune.dk")
    resp = admin.post("/admin/users/new", data={"email": "ny@kommune.dk", "name": "Ny Person", "role": "hr",
                                                "unit": "", "password": "sommer-2024"})
    assert resp.status_code == 400
    assert "mindst 12 tegn" in resp.get_data(as_text=True)
    resp = admin.post("/admin/users/new", data={"email": "ny@kommune.dk", "name": "Ny Person", "role": "hr",
                                                "unit": "", "password": "1234567890abc"})
    assert resp.status_code == 400 and "for almindelig" in resp.get_data(as_text=True)


def test_the_cli_refuses_a_weak_password_in_danish_and_sets_a_good_one(site, tmp_path):
    from webui.cli import main

    env = {"VAERN_DATA_DIR": str(site.rt.settings.data_dir), "VAERN_SECRET_KEY": "x" * 32}
    runner = CliRunner()
    result = runner.invoke(main, ["user", "add", "--email", "ny@kommune.dk", "--name", "Ny Person", "--role",
                                  "admin", "--password-stdin"], input="1234567890ab\n", env=env)
    assert result.exit_code == 2 and "Adgangskoden er for almindelig" in result.output
    victim = site.client("eva@kommune.dk")
    result = runner.invoke(main, ["user", "password", "--email", "eva@kommune.dk", "--password-stdin"],
                           input="eva-ansat-123\n", env=env)
    assert result.exit_code == 2 and "navn eller e-mail" in result.output
    result = runner.invoke(main, ["user", "password", "--email", "eva@kommune.dk", "--password-stdin"],
                           input="tre-blå-træer-i-vinden\n", env=env)
    assert result.exit_code == 0, result.output
    assert not logged_in(victim)  # a new password ends the old sessions
    assert site.login("eva@kommune.dk", "tre-blå-træer-i-vinden")[1].status_code == 302


# -- API tokens ---------------------------------------------------------------------------------------
def test_an_api_token_expires_records_its_last_use_and_is_revoked_on_the_admin_page(site):
    with site.rt.transaction() as s:
        row, secret = create_token(s, s.get(User, site.employee), "integration", days=30)
        token_id = row.id
    headers = {"Authorization": f"Bearer {secret}"}
    client = site.app.test_client()
    with time_machine.travel(START, tick=False) as clock:
        with site.rt.transaction() as s:
            s.get(ApiToken, token_id).expires_at = START + timedelta(days=30)
        assert client.get("/api/v1/cases", headers=headers).status_code == 200
        with site.rt.Session() as s:
            assert s.get(ApiToken, token_id).last_used_at == START
        clock.shift(timedelta(days=30))
        assert client.get("/api/v1/cases", headers=headers).status_code == 401
    with site.rt.transaction() as s:
        s.get(ApiToken, token_id).expires_at = datetime.now(timezone.utc) + timedelta(days=1)
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    admin = site.client("ada@kommune.dk")
    page = admin.get(f"/admin/users/{site.employee}").get_data(as_text=True)
    assert "integration" in page and "I brug" in page
    resp = admin.post(f"/admin/users/{site.employee}/tokens/{token_id}/revoke")
    assert resp.status_code == 302
    assert client.get("/api/v1/cases", headers=headers).status_code == 401
    assert "Tilbagekaldt" in admin.get(f"/admin/users/{site.employee}").get_data(as_text=True)
    assert admin.post(f"/admin/users/{site.admin}/tokens/{token_id}/revoke").status_code == 404  # not hers
    with site.rt.Session() as s:
        assert s.execute(select(AuditEvent).where(AuditEvent.action == "token.revoke")).scalar() is not None
        assert authenticate_token(s, secret) is None


def test_the_cli_creates_tokens_with_an_expiry_and_lists_them(site):
    from webui.cli import main

    env = {"VAERN_DATA_DIR": str(site.rt.settings.data_dir), "VAERN_SECRET_KEY": "x" * 32}
    runner = CliRunner()
    result = runner.invoke(main, ["token", "create", "--email", "eva@kommune.dk", "--name", "robot",
                                  "--days", "10"], env=env)
    assert result.exit_code == 0, result.output
    assert "valid until" in result.output
    result = runner.invoke(main, ["token", "list", "--email", "eva@kommune.dk"], env=env)
    assert result.exit_code == 0
    [line] = [x for x in result.output.splitlines() if "robot" in x]
    assert "\tlive\t" in line and line.endswith("\t-")  # never used
    result = runner.invoke(main, ["token", "create", "--email", "eva@kommune.dk", "--days", "0"], env=env)
    assert result.exit_code == 2


# -- both databases -------------------------------------------------------------------------------------
def test_the_throttle_counts_and_forgets_on_sqlite_and_postgresql(runtime):
    """The upsert per dialect, concurrent failures counted once each, the pair cleared by a success."""
    import threading

    with runtime.transaction() as s:
        make_user(s, Role.hr, None, email="hanne@kommune.dk")
    free = {"free_per_account": 3, "free_per_address": 100}
    with time_machine.travel(START, tick=False):
        barrier, errors = threading.Barrier(4), []

        def fail():
            try:
                barrier.wait()
                with runtime.transaction() as s:
                    throttle.record_failure(s, "Hanne@kommune.dk", "10.0.0.1")
            except Exception as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)

        threads = [threading.Thread(target=fail) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        with runtime.transaction() as s:  # 4 failures, 3 free: the next try waits 2 ** (4 - 3) s
            assert throttle.wait_seconds(s, "hanne@kommune.dk", "10.0.0.1", **free) == 2
            assert throttle.wait_seconds(s, "hanne@kommune.dk", "10.0.0.2", **free) == 0
            throttle.record_success(s, "hanne@kommune.dk", "10.0.0.1")
        with runtime.transaction() as s:
            assert throttle.wait_seconds(s, "hanne@kommune.dk", "10.0.0.1", **free) == 0


def test_counters_older_than_a_day_are_forgotten_and_removed(site):
    from sqlalchemy import func

    from storage.models import LoginThrottle

    with time_machine.travel(START, tick=False) as clock:
        for _ in range(8):
            site.login("eva@kommune.dk", "forkert", address="192.0.2.1")
        assert site.login("eva@kommune.dk", address="192.0.2.1")[1].status_code == 429
        clock.shift(throttle.FORGET_AFTER + timedelta(minutes=1))
        assert site.login("hanne@kommune.dk", "forkert", address="192.0.2.2")[1].status_code == 401
        with site.rt.Session() as s:  # only the new pair and address are left
            assert s.execute(select(func.count()).select_from(LoginThrottle)).scalar_one() == 2
        assert site.login("eva@kommune.dk", address="192.0.2.1")[1].status_code == 302
