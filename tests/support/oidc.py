"""A real OpenID Connect provider on 127.0.0.1 for the single sign-on tests: oidc-provider-mock (PyPI), served
over HTTP by werkzeug in a thread, with the people it knows given as claims.

``Tamper`` sits in front of the provider's token endpoint (the answer still travels over real HTTP to Værn). It
checks PKCE there — the code_verifier against the S256 challenge of the authorization request, which the mock
itself does not — and, when told to, breaks the exchange: ``"pkce"`` refuses the verifier as a provider would a
wrong one; ``"claims"`` rewrites the ID token's payload (the signature no longer fits); ``"unsigned"`` swaps its
header for ``alg: none`` and drops the signature; ``"replay"`` sends the ID token of an earlier sign-in (signed,
but for another nonce); ``"expired"``, ``"audience"`` and ``"issuer"`` sign it again with the provider's own key
with that one claim wrong.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

from tests.support.browser import served

CLIENT_ID, CLIENT_SECRET = "vaern-test", "vaern-test-secret"
#: ID tokens signed with the provider's real key but with one claim wrong
RESIGNED = {
    "expired": lambda c: {"exp": c["iat"] - 3600, "iat": c["iat"] - 7200},
    "audience": lambda c: {"aud": "another-app"},
    "issuer": lambda c: {"iss": "https://login.example.org/other-tenant"},
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Tamper:
    """WSGI middleware over the provider: rewrites the ID token in token responses while ``mode`` is set."""

    def __init__(self, app):
        self.app = app
        self.mode: str | None = None
        self.seen: list[str] = []  #: every ID token the provider issued, in order
        self.challenges: dict[str, tuple[str, str]] = {}  #: authorization code -> (PKCE challenge, method)
        self.pkce_checked = 0  #: token requests whose code_verifier matched its code's S256 challenge
        # the provider's own signing key (kept by the mock in a closure of its per-request hook), so that the
        # "expired", "audience" and "issuer" modes can send a token with a valid signature and one claim wrong
        self.key = next(cell.cell_contents.jwk for hook in app.before_request_funcs[None]
                        for cell in (hook.__closure__ or ()) if hasattr(cell.cell_contents, "jwk"))

    def _change(self, id_token: str) -> str:
        header, payload, signature = id_token.split(".")
        if self.mode == "claims":
            claims = json.loads(_unb64(payload))
            claims["roles"] = ["vaern-admin"]
            return ".".join((header, _b64(json.dumps(claims).encode()), signature))
        if self.mode == "unsigned":
            return ".".join((_b64(b'{"alg":"none","typ":"JWT"}'), payload, ""))
        if self.mode == "replay":
            return self.seen[0]
        if self.mode in RESIGNED:
            from authlib.jose import jwt

            claims = json.loads(_unb64(payload))
            claims.update(RESIGNED[self.mode](claims))
            return jwt.encode(json.loads(_unb64(header)), claims, self.key).decode()
        return id_token

    def _call(self, environ) -> tuple[str, list, bytes]:
        captured = {}

        def keep(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, keep))
        return captured["status"], captured["headers"], body

    def _authorize(self, environ, start_response):
        """The consent answer: remember the PKCE challenge the code was issued for."""
        query = parse_qs(environ.get("QUERY_STRING", ""))
        status, headers, body = self._call(environ)
        location = dict((k.lower(), v) for k, v in headers).get("location", "")
        code = parse_qs(urlsplit(location).query).get("code")
        if code:
            self.challenges[code[0]] = (query.get("code_challenge", [""])[0],
                                        query.get("code_challenge_method", [""])[0])
        start_response(status, headers)
        return [body]

    def _pkce_refused(self, environ, start_response):
        """The token request: the code_verifier must hash (S256) to the challenge its code was issued for —
        the check RFC 7636 asks of a provider, which the mock leaves out. None: it passes."""
        size = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(size)
        environ["wsgi.input"] = io.BytesIO(raw)
        form = parse_qs(raw.decode())
        challenge, method = self.challenges.pop(form.get("code", [""])[0], ("", ""))
        verifier = form.get("code_verifier", [""])[0]
        if (method == "S256" and verifier and _b64(hashlib.sha256(verifier.encode()).digest()) == challenge
                and self.mode != "pkce"):
            self.pkce_checked += 1
            return None
        body = json.dumps({"error": "invalid_grant", "error_description": "PKCE verification failed"}).encode()
        start_response("400 Bad Request", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/oauth2/authorize" and method == "POST":
            return self._authorize(environ, start_response)
        if path != "/oauth2/token":
            return self.app(environ, start_response)
        refused = self._pkce_refused(environ, start_response)
        if refused is not None:
            return refused
        captured = {}
        captured["status"], captured["headers"], body = self._call(environ)
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("id_token"), str):
            issued = answer["id_token"]
            answer["id_token"] = self._change(issued) if self.mode else issued
            self.seen.append(issued)
            body = json.dumps(answer).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], headers + [("Content-Length", str(len(body)))])
        return [body]


@contextlib.contextmanager
def provider(*people: dict) -> Iterator[tuple[str, Tamper]]:
    """Serve a provider knowing ``people`` (claims with "sub"); yield its issuer URL and its ``Tamper``."""
    from oidc_provider_mock import User, app

    users = [User(sub=p["sub"], claims={k: v for k, v in p.items() if k != "sub"}) for p in people]
    tamper = Tamper(app(require_nonce=True, user_claims=users))
    with served(tamper) as base:
        yield base, tamper
