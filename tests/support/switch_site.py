"""A post page on 127.0.0.1 whose answer the test switches between captures: online, edited, restyled
(same text, other markup), blank (200 without the post), tombstone (removal text), 404, 410, 503, ...

``site.mode[path] = "gone"`` changes what the next request for ``path`` gets; unknown paths are 404.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POST = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Borgere i kommunen</title></head>
<body style="margin:0;font:16px 'DejaVu Sans',sans-serif;background:#f0f2f5">
<article style="width:560px;margin:24px;padding:16px;background:#fff">
<h2>Borgerforeningen</h2><p>{text}</p></article></body></html>"""
TEXTS = {
    "online": "Sagsbehandleren på jobcentret burde skammes ud. Jeg ved hvor hun bor.",
    "edited": "Opslaget er redigeret: nu står der noget helt andet om kommunens vejafdeling.",
}
GONE = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Ikke fundet</title></head>
<body><h1>Siden blev ikke fundet</h1></body></html>"""
ERROR = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Fejl</title></head>
<body><h1>Tjenesten er midlertidigt utilgængelig</h1></body></html>"""
#: the same post after a redesign: its text is there, the <article> the capture looks for is not
RESTYLED = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Borgere i kommunen</title></head>
<body style="margin:0;font:16px 'DejaVu Sans',sans-serif"><div class="feed"><div class="item-v2">
<span>Borgerforeningen</span><div class="body">{text}</div></div></div></body></html>"""
#: a 200 page where the post was: no post, no text of it, no removal wording
BLANK = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Borgere i kommunen</title></head>
<body style="margin:0;font:16px 'DejaVu Sans',sans-serif"><main><h1>Borgerforeningen</h1>
<p>Her er ingen opslag at vise lige nu.</p></main></body></html>"""
#: the platform's own removal wording on a 200 page (the tests list it as this site's removal text)
TOMBSTONE = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Borgere i kommunen</title></head>
<body><main><h1>Borgerforeningen</h1><p>Dette opslag er fjernet af platformens moderatorer.</p></main></body></html>"""
HOME = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Forside</title></head>
<body><h1>Velkommen</h1><p>Nyheder fra foreningen.</p></body></html>"""


class SwitchSite:
    def __init__(self) -> None:
        self.mode: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/":
                    return self._send(200, HOME)
                mode = site.mode.get(self.path)
                if mode in TEXTS:
                    return self._send(200, POST.format(text=TEXTS[mode]))
                if mode == "restyled":
                    return self._send(200, RESTYLED.format(text=TEXTS["online"]))
                if mode in ("blank", "tombstone"):
                    return self._send(200, BLANK if mode == "blank" else TOMBSTONE)
                if mode == "deleted":
                    return self._send(410, GONE)
                if mode == "unavailable":
                    return self._send(503, ERROR, {"Retry-After": "120"})
                if mode == "home":
                    return self._send(302, "", {"Location": "/"})
                return self._send(404, GONE)

            def _send(self, status: int, html: str, headers: dict[str, str] | None = None) -> None:
                body = html.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="switch-site", daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
