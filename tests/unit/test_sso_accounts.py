"""Single sign-on's rules without the provider: the role map setting, reading the role claim, and what a sign-in
does to accounts (tracker.accounts.sso) — matched by (issuer, sub), never by e-mail; refusals audited."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Role, User
from tests.support.factories import make_settings, make_unit, make_user
from tracker.accounts import sso
from tracker.accounts.admin import reset_password
from tracker.accounts.users import authenticate
from tracker.errors import DomainError
from tracker.settings import RoleMapping, SettingsError, load_settings, parse_role_map

ISSUER = "https://login.microsoftonline.com/tenant-1/v2.0"
MAP = "g-leder=leader@Jobcenter;g-ansat=employee@Jobcenter;g-hr=hr;g-admin=admin;g-ghost=amr@Spøgelse"
PROVIDER = sso.Provider(ISSUER, "roles", tuple(parse_role_map(MAP)))


def test_the_role_map_is_read_in_order_and_a_bad_entry_is_named():
    assert parse_role_map(" a=leader@Jobcenter ; b=hr;;") == [RoleMapping("a", "leader", "Jobcenter"),
                                                              RoleMapping("b", "hr", None)]
    for spec, says in [("a=leader", "needs a unit"), ("a=hr@Jobcenter", "has no unit"), ("a=boss", "is not one of"),
                       ("=hr", "is not claimvalue=role")]:
        with pytest.raises(ValueError, match=says):
            parse_role_map(spec)


def test_settings_refuse_single_sign_on_half_set_and_local_login_off_without_it(tmp_path):
    with pytest.raises(SettingsError, match="VAERN_OIDC_CLIENT_ID"):
        load_settings(_env_file=None, data_dir=tmp_path, oidc_issuer=ISSUER)
    with pytest.raises(SettingsError, match="VAERN_LOCAL_LOGIN"):
        load_settings(_env_file=None, data_dir=tmp_path, local_login=False)
    with pytest.raises(SettingsError, match="https"):
        load_settings(_env_file=None, data_dir=tmp_path, oidc_issuer="http://idp.kommune.dk", oidc_client_id="x")
    ok = make_settings(tmp_path, oidc_issuer=ISSUER, oidc_client_id="x", oidc_role_map=MAP)
    assert ok.oidc_enabled and ok.oidc_scopes == "openid email profile" and ok.oidc_role_claim == "roles"
    assert ok.oidc_button_label == "Log ind med kommunens konto" and ok.local_login


def test_the_role_claim_may_be_a_list_one_value_or_a_dotted_path_and_the_first_map_entry_wins():
    claims = {"roles": ["g-hr", "g-leder"], "groups": "g-ansat", "realm_access": {"roles": ["g-admin", 7]}}
    assert sso.claim_values(claims, "roles") == ["g-hr", "g-leder"]
    assert sso.claim_values(claims, "groups") == ["g-ansat"]
    assert sso.claim_values(claims, "realm_access.roles") == ["g-admin"]
    assert sso.claim_values(claims, "missing.path") == []
    # the map's order decides, not the claim's: g-leder comes before g-hr in MAP
    assert sso.mapped_role(claims["roles"], PROVIDER.role_map).role == "leader"
    assert sso.mapped_role(["other"], PROVIDER.role_map) is None


def _claims(**extra):
    return {"sub": "s-1", "name": "Lis Leder", "email": "Lis@Kommune.dk", "roles": ["g-leder"], **extra}


def _audit(rt, action):
    with rt.Session() as s:
        return [e.details for e in s.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars()]


def test_an_account_is_made_just_in_time_without_a_password_and_found_again_by_issuer_and_subject(make_runtime):
    rt = make_runtime()
    with rt.transaction() as s:
        make_unit(s, "Jobcenter")
        done = sso.sign_in(s, PROVIDER, _claims())
        user_id = done.user.id
        assert (done.user.email, done.user.role, done.user.unit.name) == ("lis@kommune.dk", Role.leader, "Jobcenter")
        assert authenticate(s, "lis@kommune.dk", sso.NO_PASSWORD) is None  # no password ever matches
        with pytest.raises(DomainError, match="single sign-on"):  # nor can one be given: it would outlive the role
            reset_password(s, None, done.user)
        # a new e-mail at the provider follows the person; the same e-mail under another issuer is someone else
        again = sso.sign_in(s, PROVIDER, _claims(email="lis.leder@kommune.dk"))
        assert again.user.id == user_id and again.user.email == "lis.leder@kommune.dk" and not again.ended_sessions
        other = sso.Provider("https://idp.other.dk", "roles", PROVIDER.role_map)
        assert sso.sign_in(s, other, _claims(email="lis.leder@kommune.dk")).refused == sso.EMAIL_TAKEN
    assert _audit(rt, "user.create")[0]["via"] == "sso"
    assert _audit(rt, "auth.login") == [{"via": "sso"}, {"via": "sso"}]


def test_an_existing_local_account_is_never_taken_over_by_e_mail(make_runtime):
    rt = make_runtime()
    with rt.transaction() as s:
        unit = make_unit(s, "Jobcenter")
        make_user(s, Role.employee, unit, email="lis@kommune.dk")
        done = sso.sign_in(s, PROVIDER, _claims())
        assert done.refused == sso.EMAIL_TAKEN and done.user is None
        assert s.execute(select(User).where(User.oidc_subject == "s-1")).first() is None
    assert _audit(rt, "auth.sso_refused")[0]["reason"] == "email_taken"


def test_a_changed_role_ends_older_sessions_and_a_lost_role_or_unknown_unit_or_deactivation_refuses(make_runtime):
    rt = make_runtime()
    with rt.transaction() as s:
        make_unit(s, "Jobcenter")
        user = sso.sign_in(s, PROVIDER, _claims()).user
        generation = user.session_generation
        done = sso.sign_in(s, PROVIDER, _claims(roles=["g-hr"]))
        assert done.ended_sessions and user.role is Role.hr and user.unit is None
        assert user.session_generation == generation + 1
        lost = sso.sign_in(s, PROVIDER, _claims(roles=[]))
        assert lost.refused == sso.NO_ROLE and user.session_generation == generation + 2 and user.role is Role.hr
        ghost = sso.sign_in(s, PROVIDER, _claims(roles=["g-ghost"]))
        assert (ghost.refused, ghost.unit) == (sso.UNIT_MISSING, "Spøgelse")
        assert sso.sign_in(s, PROVIDER, _claims(email=None, preferred_username="x")).refused == sso.NO_EMAIL
        user.active = False
        assert sso.sign_in(s, PROVIDER, _claims(roles=["g-hr"])).refused == sso.INACTIVE
    assert [d["reason"] for d in _audit(rt, "auth.sso_refused")] == ["no_role", "unit_missing", "no_email", "inactive"]
    assert _audit(rt, "user.update")[0]["changes"]["role"] == ["leader", "hr"]
