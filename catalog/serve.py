"""``python -m catalog serve``: browse a lake in a web browser (stdlib HTTP, read-only).

URLs map onto validated names only (``/d/NAME/vN/``): a dataset name must match the lake's safe
alphabet and a version must be a published number in canonical form (``v1``; ``v01`` or a number
of thousands of digits is 404), so no URL can reach outside the lake and each version has one URL.
Every response forbids scripts through Content-Security-Policy. A damaged version answers 500
with the reason; no request, however it fails, drops the connection without a response.
"""
from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from catalog import lake as lakelib
from catalog import pages

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
STYLE = Path(__file__).with_name("static") / "style.css"
_ROUTES = [
    (re.compile(r"^/$"), "index"),
    (re.compile(r"^/static/style\.css$"), "style"),
    (re.compile(r"^/d/([^/]+)/$"), "dataset"),
    (re.compile(rf"^/d/([^/]+)/v({lakelib.VERSION_NUMBER})/$"), "version"),
    (re.compile(rf"^/d/([^/]+)/v({lakelib.VERSION_NUMBER})/manifest\.json$"), "manifest"),
]
_HTML = "text/html; charset=utf-8"


def route(lake: Path | lakelib.Lake, raw_path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for a request path; pure, so it is tested without a socket."""
    path = unquote(urlsplit(raw_path).path)
    for pattern, kind in _ROUTES:
        m = pattern.match(path)
        if m:
            return _answer(lake, kind, m)
    return 404, _HTML, pages.not_found_page("no such page").encode()


def _answer(lake: Path | lakelib.Lake, kind: str, m: re.Match) -> tuple[int, str, bytes]:
    try:
        if kind == "index":
            return 200, _HTML, pages.index_page(lake).encode()
        if kind == "style":
            return 200, "text/css; charset=utf-8", STYLE.read_bytes()
        name = lakelib.check_name(m.group(1))
        if kind == "dataset":
            if not lakelib.list_versions(lake, name):
                raise lakelib.CatalogError(f"no published version of dataset {name!r}")
            return 200, _HTML, pages.dataset_page(lake, name).encode()
        version = int(m.group(2))
        try:
            if kind == "manifest":
                _, manifest = lakelib.load_manifest(lake, f"{name}@v{version}")
                return 200, "application/json", json.dumps(manifest, indent=2, sort_keys=True).encode()
            return 200, _HTML, pages.version_page(lake, name, version).encode()
        except pages.DAMAGE as e:
            if isinstance(e, lakelib.CatalogError) and not isinstance(e, lakelib.ManifestError):
                raise  # not published: 404 below
            crumbs = [("lake", "/"), (name, f"/d/{quote(name)}/")]
            return 500, _HTML, pages.broken_page(f"{name}@v{version}", e, crumbs).encode()
    except lakelib.CatalogError as e:
        return 404, _HTML, pages.not_found_page(str(e)).encode()


def make_server(lake: str | Path | lakelib.Lake, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server for ``lake`` (local or on an object store); port 0 picks a free port (see ``server.server_address``)."""
    root = lakelib.open_lake(lake)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                status, ctype, body = route(root, self.path)
            except Exception as e:  # a bug or damage no page foresaw: still one answer, never a dropped connection
                status, ctype = 500, _HTML
                body = pages.broken_page("This page", RuntimeError(f"{type(e).__name__}: {e}")).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)
