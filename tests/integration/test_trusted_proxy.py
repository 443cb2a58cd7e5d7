"""Behind a reverse proxy every request comes from the proxy's address: `VAERN_TRUSTED_PROXIES` says how many
X-Forwarded-For hops to believe, so login throttling slows the guessing address down and not everyone."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import time_machine
from pydantic import ValidationError

from storage.models import Role
from tests.support.database import new_runtime
from tests.support.factories import PASSWORD, make_settings, make_unit, make_user
from webui.app import create_app

START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
PROXY = "127.0.0.1"  #: nginx on the same host


def _app(tmp_path, trusted: int):
    rt = new_runtime(make_settings(tmp_path, trusted_proxies=trusted))
    with rt.transaction() as s:
        make_user(s, Role.employee, make_unit(s, "Jobcenter"), email="eva@kommune.dk", name="Eva Ansat")
    app = create_app(runtime=rt)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    return rt, app


def _login(app, password: str, forwarded_for: str):
    return app.test_client().post("/login", data={"email": "eva@kommune.dk", "password": password},
                                  headers={"X-Forwarded-For": forwarded_for}, environ_base={"REMOTE_ADDR": PROXY})


@pytest.fixture
def behind_nginx(tmp_path):
    rt, app = _app(tmp_path, trusted=1)
    yield app
    rt.close()


@pytest.fixture
def direct(tmp_path):
    rt, app = _app(tmp_path, trusted=0)
    yield app
    rt.close()


def test_behind_a_trusted_proxy_a_guessing_address_does_not_slow_down_the_real_user(behind_nginx):
    with time_machine.travel(START, tick=False):
        for _ in range(5):  # the free attempts from the attacker's address
            assert _login(behind_nginx, "forkert-kode", "203.0.113.7").status_code == 401
        assert _login(behind_nginx, PASSWORD, "203.0.113.7").status_code == 429
        assert _login(behind_nginx, PASSWORD, "198.51.100.20").status_code == 302  # the real user, elsewhere


def test_without_trusted_proxies_a_forged_forwarded_for_header_changes_nothing(direct):
    with time_machine.travel(START, tick=False):
        for i in range(5):  # the attacker rotates a forged header; Værn counts the TCP peer
            assert _login(direct, "forkert-kode", f"203.0.113.{i}").status_code == 401
        assert _login(direct, PASSWORD, "198.51.100.20").status_code == 429


def test_trusted_proxies_is_a_bounded_setting(tmp_path):
    with pytest.raises(ValidationError):
        make_settings(tmp_path, trusted_proxies=-1)
