"""Single sign-on: the authorization code flow with PKCE against the municipality's OpenID Connect provider.

Authlib's Flask client (1.6 line: it runs on the cryptography that mitmproxy 11.0 pins, see pyproject.toml)
does the protocol: discovery, state, nonce and PKCE (S256) kept in the session, the code exchange, and the
ID token's signature against the provider's JWKS, issuer, audience, nonce, expiry and issue time. This module
also insists on an ID token with a public-key signature, checks the nonce once more against the one it sent,
and hands the claims to ``tracker.accounts.sso`` (who the person is, which role, the audit).

Logging out (``webui.auth.logout``) also ends the session at the provider when it offers an
``end_session_endpoint`` (OpenID Connect RP-Initiated Logout).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from authlib.jose.util import extract_header
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from tracker.accounts import sso as ops
from tracker.settings import Settings, parse_role_map
from webui.auth import SSO_FLAG, SSO_ID_TOKEN, SSO_KEY, start_session
from webui.db import db, runtime
from webui.extensions import limiter
from webui.forms.auth import LoginForm, SsoForm
from webui.labels import PERSON_ROLE_LABELS
from webui.redirects import safe_target
from webui.roles import me, role_required
from storage.models import Role

bp = Blueprint("sso", __name__)
log = logging.getLogger(__name__)

KEY = SSO_KEY  #: app.extensions[KEY]: the Sso of this app (absent without VAERN_OIDC_ISSUER)
CLIENT = "oidc"  #: the name of the client in Authlib's registry (its session keys start with _state_oidc_)
#: session keys: signed in through the provider; the ID token for the provider's logout (if small enough)
VIA_SSO, ID_TOKEN = SSO_FLAG, SSO_ID_TOKEN
MAX_KEPT_ID_TOKEN = 1500  #: a bigger ID token (many groups) is not kept in the cookie; logout goes without it
#: ID-token signatures accepted: public-key ones only (never "none", never a shared secret)
PUBLIC_KEY_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                             "EdDSA"})


@dataclass
class Sso:
    """The provider of this app: the settings it was made from and Authlib's client for it."""

    settings: Settings
    client: object
    provider: ops.Provider

    @property
    def label(self) -> str:
        return self.settings.oidc_button_label

    def origins(self) -> set[str]:
        """The provider's origins forms may be sent on to: the issuer's, and its endpoints' once discovered."""
        found = {_origin(self.settings.oidc_issuer)}
        known = getattr(self.client, "server_metadata", None) or {}
        for key in ("authorization_endpoint", "end_session_endpoint"):
            if isinstance(known.get(key), str):
                found.add(_origin(known[key]))
        return {o for o in found if o}

    def metadata(self) -> dict:
        """The provider's discovery document (fetched once, then kept); RequestException if unreachable."""
        return self.client.load_server_metadata()

    def logout_url(self, id_token: str | None, back_to: str) -> str | None:
        """Where the browser ends its session at the provider, or None if the provider offers no such end."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except (requests.RequestException, ValueError) as exc:
            log.warning("single sign-on: the provider's discovery document failed: %s", exc)
            return None
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            return None
        params = {"client_id": self.settings.oidc_client_id, "post_logout_redirect_uri": back_to}
        if id_token:
            params["id_token_hint"] = id_token
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c in parts.netloc for c in " ;'\""):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def init_app(app: Flask, settings: Settings) -> None:
    """Register the routes; with VAERN_OIDC_ISSUER set, the provider too (its discovery is fetched when first used)."""
    app.register_blueprint(bp)
    if not settings.oidc_enabled:
        return
    issuer = settings.oidc_issuer
    oauth = OAuth(app)
    client_kwargs = {"scope": settings.oidc_scopes, "code_challenge_method": "S256", "timeout": 15}
    if not settings.oidc_client_secret:
        client_kwargs["token_endpoint_auth_method"] = "none"  # a public client: PKCE alone binds the code
    client = oauth.register(
        CLIENT, client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration", client_kwargs=client_kwargs)
    provider = ops.Provider(issuer=issuer, role_claim=settings.oidc_role_claim,
                            role_map=tuple(parse_role_map(settings.oidc_role_map)))
    app.extensions[KEY] = sso = Sso(settings, client, provider)

    @app.after_request
    def _forms_may_go_to_the_provider(resp):
        # the sign-in and logout buttons are forms whose answer redirects to the provider: CSP form-action
        # (Værn's is 'self') must name it, or the browser stops at the redirect. Runs after security_headers.
        csp = resp.headers.get("Content-Security-Policy", "")
        if "form-action 'self'" in csp:
            resp.headers["Content-Security-Policy"] = csp.replace(
                "form-action 'self'", "form-action 'self' " + " ".join(sorted(sso.origins())), 1)
        return resp


def current() -> Sso | None:
    return current_app.extensions.get(KEY)


def _sso_or_404() -> Sso:
    sso = current()
    if sso is None:
        abort(404)
    return sso


@bp.route("/login/sso", methods=["POST"])
@limiter.limit(lambda: current_app.extensions["vaern"].settings.login_rate_limit)
def start():
    """Send the browser to the provider (state, nonce and the PKCE challenge kept in the session)."""
    sso = _sso_or_404()
    form = SsoForm()
    if not form.validate_on_submit():
        abort(400)
    session["sso_next"] = safe_target(form.next.data, url_for("cases.index"))
    try:
        return sso.client.authorize_redirect(url_for("sso.callback", _external=True))
    except (requests.RequestException, ValueError, AuthlibBaseError) as exc:
        log.warning("single sign-on: the provider could not be reached: %s", exc)
        return _failed(sso, f"provider unreachable: {type(exc).__name__}", status=503)


def _failed(sso: Sso, reason: str, status: int = 400):
    """The login page again with a calm message; the failure is audited (committed with the answer)."""
    ops.record_failure(db(), sso.provider.issuer, reason)
    error = _("Signing in with your municipality account did not work. Try again; if it keeps failing, "
              "tell your administrator.")
    return render_template("auth/login.html", form=LoginForm(), sso_form=SsoForm(), sso=sso, error=error,
                           local_login=sso.settings.local_login), status


def _sent_nonce(state: object) -> str | None:
    kept = session.get(f"_state_{CLIENT}_{state}") if isinstance(state, str) else None
    data = kept.get("data") if isinstance(kept, dict) else None
    return data.get("nonce") if isinstance(data, dict) else None


@bp.route("/login/sso/callback")
@limiter.limit(lambda: current_app.extensions["vaern"].settings.login_rate_limit)
def callback():
    """The provider's answer: the code is exchanged and the ID token checked before anyone is signed in."""
    sso = _sso_or_404()
    if request.args.get("error"):
        return _failed(sso, "provider said: " + request.args.get("error", "")[:100])
    nonce = _sent_nonce(request.args.get("state"))
    issuer = sso.provider.issuer
    try:
        # every check named: Authlib checks "aud" only when told the value (its default passes another audience
        # whenever "azp" names this client)
        token = sso.client.authorize_access_token(
            claims_options={"iss": {"essential": True, "value": issuer}, "sub": {"essential": True},
                            "aud": {"essential": True, "value": sso.settings.oidc_client_id},
                            "exp": {"essential": True}, "nonce": {"essential": True}},
            leeway=60)
        id_token = token.get("id_token")
        claims = token.get("userinfo")
        if not isinstance(id_token, str) or not claims:
            return _failed(sso, "no ID token in the answer")
        alg = extract_header(id_token.split(".")[0].encode(), ValueError).get("alg")
        if alg not in PUBLIC_KEY_ALGS:
            return _failed(sso, f"ID token signed with {alg!r}")
        if not nonce or claims.get("nonce") != nonce:
            return _failed(sso, "nonce does not match")
    except (AuthlibBaseError, requests.RequestException, ValueError, KeyError, TypeError) as exc:
        return _failed(sso, f"{type(exc).__name__}: {exc}"[:300])
    done = ops.sign_in(db(), sso.provider, dict(claims))
    if done.user is None:
        return render_template("auth/sso_refused.html", refused=done.refused, unit=done.unit), 403
    target = session.pop("sso_next", None) or url_for("cases.index")
    start_session(done.user)  # a fresh session (no fixation); nothing of the flow is carried over
    session[VIA_SSO] = 1
    if len(id_token) <= MAX_KEPT_ID_TOKEN:
        session[ID_TOKEN] = id_token
    return redirect(safe_target(target, url_for("cases.index")))


@bp.route("/admin/sso")
@role_required(Role.admin)
def admin_status():
    """The administrators' view of single sign-on: on or off, the provider and whether it answers, the role map."""
    sso = current()
    settings = runtime().settings
    overview, answer, error = None, None, None
    if sso is not None:
        overview = ops.overview(db(), me(), sso.provider)
        try:
            answer = sso.metadata()
        except (requests.RequestException, ValueError) as exc:
            error = type(exc).__name__
    return render_template("admin/sso.html", sso=sso, settings=settings, overview=overview, answer=answer,
                           error=error, roles=PERSON_ROLE_LABELS)
