"""Page weight of the home page for a phone (issue 18): bytes transferred on a first visit and on
a repeat visit with a warm cache, one run, on the demo data.

    .venv/bin/python -m bench.weight [--path /] [--verbose]

It loads the demo into a temporary SQLite file, builds the app (``THRIVING_ENV=development``
settings, the test client: no network) and then behaves like a browser that sends
``Accept-Encoding: gzip, br``:

* first visit — the page, then every stylesheet, script (and the modules they import), icon,
  font and image the page and its CSS would load. Each response counts its status line, its
  headers and its body as sent (encoded: a gzip or Brotli body counts compressed).
* repeat visit — the page again; then each asset the first visit fetched is looked up in the
  "cache": one whose ``Cache-Control`` has a ``max-age`` in the future (and no ``no-cache``) is
  not requested at all; any other is revalidated with ``If-None-Match`` / ``If-Modified-Since``
  and counts as a request with its bytes (a 304's headers).

An image in the CSS counts only when a class of its rule's selector is in the page (the browser
fetches background images only for elements that exist); a font only when the CSS uses its
family. ``/favicon.ico`` is requested when the page links no icon, as browsers do.
Goals: first visit ≤ 50 KB, repeat visit ≤ 10 KB and no asset requests.
"""

import argparse
import datetime as dt
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from community.db import get_engine, open_session
from community.migrate import upgrade

ACCEPT = {"Accept-Encoding": "gzip, br", "User-Agent": "bench/weight.py (phone)"}


@dataclass
class Fetched:
    url: str
    status: int
    header_bytes: int
    body_bytes: int
    encoding: str
    cache_control: str
    etag: str | None
    last_modified: str | None

    @property
    def total(self) -> int:
        return self.header_bytes + self.body_bytes


def make_app(tmp: Path):
    from wsgi import create_app

    url = f"sqlite:///{tmp / 'weight.sqlite3'}"
    app = create_app({"ENV_NAME": "development", "DATABASE_URL": url, "RATELIMIT_ENABLED": False,
                      "PUBLIC_PAGE_CACHE_SECONDS": 0, "STATEMENT_FREEZE": "cron",
                      "MAIL_DELIVERY": "queue", "OUTBOX_DIR": str(tmp / "outbox"),
                      "RECEIPTS_DIR": str(tmp / "receipts"), "INSTANCE_UPLOADS": str(tmp / "uploads")})
    import demo

    engine = get_engine(app)
    upgrade(engine)
    with app.app_context():
        session = open_session(engine, write=True)
        demo.load(session, secret=app.config["SECRET_KEY"], today=dt.date.today())
        session.commit()
        session.close()
    return app


def fetch(client, url: str, extra: dict | None = None) -> Fetched:
    response = client.get(url, headers={**ACCEPT, **(extra or {})})
    body = response.get_data()  # as sent: the test client does not decode Content-Encoding
    head = f"HTTP/1.1 {response.status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in response.headers.items())
    return Fetched(url, response.status_code, len(head.encode()) + 2, len(body),
                   response.headers.get("Content-Encoding", "identity"),
                   response.headers.get("Cache-Control", ""), response.headers.get("ETag"),
                   response.headers.get("Last-Modified"))


def _decoded(client, url: str) -> str:
    return client.get(url).get_data(as_text=True)


def page_assets(html: str, base: str) -> tuple[list[str], list[str], bool]:
    """Stylesheets, scripts (in order) and the icons the page links."""
    css = [urljoin(base, m) for m in re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', html)]
    js = [urljoin(base, m) for m in re.findall(r'<script[^>]+src="([^"]+)"', html)]
    js += [urljoin(base, m) for m in re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"', html)]
    icons = [urljoin(base, m) for m in re.findall(r'<link[^>]+rel="(?:shortcut )?icon"[^>]+href="([^"]+)"', html)]
    return css, js, icons


def module_imports(source: str, base: str) -> list[str]:
    found = re.findall(r'(?:import|export)\s[^"\';]*?from\s*["\']([^"\']+)["\']', source)
    found += re.findall(r'import\s*["\']([^"\']+)["\']', source)
    found += re.findall(r'import\(\s*["\']([^"\']+)["\']\s*\)', source)
    return [urljoin(base, f) for f in found]


def css_urls(css: str, base: str, html: str) -> list[str]:
    """url()s the browser would fetch for this page: fonts whose family the CSS uses, images
    whose rule names a class present in the page."""
    classes = set(re.findall(r'class="([^"]*)"', html))
    classes = {c for group in classes for c in group.split()}
    out = []
    for face in re.findall(r"@font-face\s*{([^}]*)}", css):
        family = re.search(r"font-family:\s*([^;]+)", face)
        used = family and css.count(family.group(1).strip()) > 1
        for u in re.findall(r'url\(["\']?([^"\')]+)', face):
            if used and u.endswith("woff2"):
                out.append(urljoin(base, u))
    for selector, body in re.findall(r"([^{}@]+){([^{}]*url\([^{}]*)}", css):
        if "@font-face" in selector:
            continue
        names = set(re.findall(r"\.([\w-]+)", selector))
        if names & classes:
            out += [urljoin(base, u) for u in re.findall(r'url\(["\']?([^"\')]+)', body)
                    if not u.startswith("data:")]
    return list(dict.fromkeys(out))


def fresh(cache_control: str) -> bool:
    """A warm cache reuses the response without asking: max-age in the future, no no-cache."""
    cc = cache_control.lower()
    match = re.search(r"max-age=(\d+)", cc)
    return bool(match) and int(match.group(1)) > 0 and "no-cache" not in cc and "no-store" not in cc


def first_visit(client, path: str) -> list[Fetched]:
    page = fetch(client, path)
    html = _decoded(client, path)
    base = "http://localhost" + path
    css, js, icons = page_assets(html, base)
    fetched, seen = [page], set()
    queue = [(u, "css") for u in css] + [(u, "js") for u in js]
    queue += [(u, "icon") for u in icons or [urljoin(base, "/favicon.ico")]]
    while queue:
        url, kind = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        local = urlsplit(url)._replace(scheme="", netloc="").geturl()
        fetched.append(fetch(client, local))
        if fetched[-1].status != 200:
            continue
        if kind == "css":
            queue += [(u, "asset") for u in css_urls(_decoded(client, local), url, html)]
        elif kind == "js":
            queue += [(u, "js") for u in module_imports(_decoded(client, local), url)]
    return fetched


def repeat_visit(client, path: str, first: list[Fetched]) -> list[Fetched]:
    out = [fetch(client, path)]
    for f in first[1:]:
        if f.status == 200 and fresh(f.cache_control):
            continue
        conditional = {}
        if f.etag:
            conditional["If-None-Match"] = f.etag
        if f.last_modified:
            conditional["If-Modified-Since"] = f.last_modified
        out.append(fetch(client, f.url, conditional))
    return out


def show(title: str, rows: list[Fetched], verbose: bool) -> int:
    total = sum(r.total for r in rows)
    print(f"{title}: {len(rows)} requests ({len(rows) - 1} for assets), {total:,} bytes = {total / 1024:.1f} KB")
    if verbose:
        for r in rows:
            print(f"  {r.status} {r.total:>8,} B  {r.encoding:<8} {r.cache_control or '-':<40} {r.url}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        client = app.test_client(use_cookies=False)  # an anonymous first-time visitor
        first = first_visit(client, args.path)
        repeat = repeat_visit(client, args.path, first)
        get_engine(app).dispose()
    print(f"Home page ({args.path}) as a phone with Accept-Encoding: gzip, br")
    by_kind: dict[str, int] = {}
    for r in first:
        kind = Path(urlsplit(r.url).path).suffix or "html"
        by_kind[kind] = by_kind.get(kind, 0) + r.total
    a = show("first visit", first, args.verbose)
    print("  by type: " + ", ".join(f"{k} {v / 1024:.1f} KB" for k, v in sorted(by_kind.items())))
    b = show("repeat visit", repeat, args.verbose)
    print(f"goals: first ≤ 50 KB: {'met' if a <= 50 * 1024 else 'NOT met'}; "
          f"repeat ≤ 10 KB with no asset requests: "
          f"{'met' if b <= 10 * 1024 and len(repeat) == 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
