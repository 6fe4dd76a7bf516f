"""``python -m catalog serve``: browse a lake in a web browser (stdlib HTTP, read-only).

URLs map onto validated names only (``/d/NAME/vN/``): a dataset name must match the lake's safe
alphabet and a version must be a published number, so no URL can reach outside the lake.
Every response forbids scripts through Content-Security-Policy.
"""
from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from catalog import lake as lakelib
from catalog import pages

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
STYLE = Path(__file__).with_name("static") / "style.css"
_ROUTES = [
    (re.compile(r"^/$"), "index"),
    (re.compile(r"^/static/style\.css$"), "style"),
    (re.compile(r"^/d/([^/]+)/$"), "dataset"),
    (re.compile(r"^/d/([^/]+)/v(\d+)/$"), "version"),
    (re.compile(r"^/d/([^/]+)/v(\d+)/manifest\.json$"), "manifest"),
]


def route(lake: Path, raw_path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for a request path; pure, so it is tested without a socket."""
    path = unquote(urlsplit(raw_path).path)
    for pattern, kind in _ROUTES:
        m = pattern.match(path)
        if not m:
            continue
        try:
            if kind == "index":
                return 200, "text/html; charset=utf-8", pages.index_page(lake).encode()
            if kind == "style":
                return 200, "text/css; charset=utf-8", STYLE.read_bytes()
            name = lakelib.check_name(m.group(1))
            if kind == "dataset":
                if not lakelib.list_versions(lake, name):
                    raise lakelib.CatalogError(f"no published version of dataset {name!r}")
                return 200, "text/html; charset=utf-8", pages.dataset_page(lake, name).encode()
            version = int(m.group(2))
            if kind == "manifest":
                _, manifest = lakelib.load_manifest(lake, f"{name}@v{version}")
                return 200, "application/json", json.dumps(manifest, indent=2, sort_keys=True).encode()
            return 200, "text/html; charset=utf-8", pages.version_page(lake, name, version).encode()
        except lakelib.CatalogError as e:
            return 404, "text/html; charset=utf-8", pages.not_found_page(str(e)).encode()
    return 404, "text/html; charset=utf-8", pages.not_found_page("no such page").encode()


def make_server(lake: str | Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server for ``lake``; port 0 picks a free port (see ``server.server_address``)."""
    root = Path(lake)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, ctype, body = route(root, self.path)
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
