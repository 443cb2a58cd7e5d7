"""A local login-walled "platform" on 127.0.0.1 for the capture-profile tests (issue 14).

``POST`` needs the cookie ``session=SESSION``, else it redirects to ``/login``; the login form posts the
e-mail and password to ``/login``, which sets that cookie for the right pair (``LOGIN_EMAIL``,
``LOGIN_PASSWORD``) and sends the browser to the post. The server logs nothing.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

SESSION = "s3ss10n-ab12cd34ef56gh78ij90"  #: the platform's valid session cookie value
EXPIRED = "exp1red-zz99yy88xx77ww66vv55"
LOCAL_TOKEN = "lst0ken-0123456789abcdefABCDEF"  #: a local-storage value of the profile
SERVER_TOKEN = "csrf-srv-5a5a5a5a5a5a5a5a"  #: set by the platform in a Set-Cookie header
POST = "/groups/borgerforeningen/posts/4242"

LOGIN_PAGE = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Log ind</title></head>
<body><main><h1>Log ind for at se opslaget</h1><form method="post" action="/login">
<label>E-mail <input type="email" name="email"></label>
<label>Adgangskode <input type="password" name="password"></label><button>Log ind</button></form></main></body></html>"""

POST_PAGE = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Borgerforeningen</title>
<script>window.__session = "%s";</script></head>
<body><div role="article" data-post-id="4242"><h2><a href="/borgerforeningen">Borgerforeningen</a></h2>
<p>Ingeniøren Bjørn Ødegård har IGEN ladet hullerne stå på Strandvejen. Giv ham besked selv!</p></div>
<script>document.body.dataset.t = localStorage.getItem("token") || "none";</script></body></html>"""


#: a page that opens the login in a new window (a pop-up, as many platforms' login buttons do)
START_PAGE = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Velkommen</title></head>
<body><main><h1>Velkommen</h1><p><a id="login" href="/login" target="_blank">Log ind i et nyt vindue</a></p></main>
</body></html>"""

LOGIN_EMAIL = "team-digital@kommune.test"
LOGIN_PASSWORD = "Pl4tform-Kodeord-9e8d7c6b"  #: typed in the remote browser: must end up nowhere in Værn


class Platform:
    """A login-walled platform on 127.0.0.1: ``POST`` needs the cookie ``session=SESSION``, else → /login."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's name
                cookies = dict(p.strip().split("=", 1) for p in (self.headers.get("Cookie") or "").split(";")
                               if "=" in p)
                if self.path.startswith("/login"):
                    return self._send(200, LOGIN_PAGE)
                if self.path == "/start":
                    return self._send(200, START_PAGE)
                if self.path == POST and cookies.get("session") == SESSION:
                    return self._send(200, POST_PAGE % SESSION,
                                      [("Set-Cookie", f"csrftoken={SERVER_TOKEN}; Path=/; HttpOnly")])
                if self.path == POST:
                    self.send_response(302)
                    self.send_header("Location", f"/login?next={POST}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._send(404, "<!doctype html><title>404</title><p>Ikke fundet</p>")

            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("utf-8"))
                if self.path.startswith("/login") and form.get("email") == [LOGIN_EMAIL] \
                        and form.get("password") == [LOGIN_PASSWORD]:
                    self.send_response(302)
                    self.send_header("Location", POST)
                    self.send_header("Set-Cookie", f"session={SESSION}; Path=/; HttpOnly; SameSite=Lax")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._send(401, LOGIN_PAGE)

            def _send(self, status, body, headers=()):
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
