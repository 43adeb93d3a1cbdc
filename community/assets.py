"""Static files through WhiteNoise (issue 18): the content-hashed names that scripts/hash_assets.py
builds are served with ``Cache-Control: public, max-age=31536000, immutable`` and, when the
browser asks, as their pre-compressed Brotli or gzip file; any other file under static/ (the
plain names still work) gets a short cache. Templates link the hashed name with
``asset('build/app.css')``, read from static/build/manifest.json; without a manifest (assets not
hashed yet) ``asset()`` gives the plain name, so nothing breaks in development.
"""

import json
import re
from pathlib import Path

from flask import Flask, url_for
from whitenoise import WhiteNoise

MANIFEST = "build/manifest.json"
SHORT_MAX_AGE = 60  # seconds: a plain (unhashed) name may change at the next deploy
_HASHED = re.compile(r"^build/.+\.[0-9a-f]{12}\.\w+$")


def is_hashed(path: str, url: str) -> bool:
    """WhiteNoise's immutable_file_test: only a content-hashed name never changes."""
    return bool(_HASHED.match(url.removeprefix("/static/")))


IMMUTABLE = "public, max-age=31536000, immutable"  # a year, as RFC 8246 suggests


def _headers(headers, path: str, url: str) -> None:
    headers["X-Content-Type-Options"] = "nosniff"
    if is_hashed(path, url):
        headers["Cache-Control"] = IMMUTABLE


def load_manifest(static_folder: str) -> dict[str, str]:
    try:
        return json.loads((Path(static_folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def init_app(app: Flask) -> None:
    manifest = load_manifest(app.static_folder)
    app.extensions["asset_manifest"] = manifest
    app.wsgi_app = WhiteNoise(
        app.wsgi_app, root=app.static_folder, prefix=app.static_url_path.strip("/") + "/",
        max_age=SHORT_MAX_AGE, immutable_file_test=is_hashed, add_headers_function=_headers,
        autorefresh=app.config["ENV_NAME"] == "development",
    )

    def asset(name: str) -> str:
        """The URL of a static file under its hashed name (the plain one if not hashed)."""
        return url_for("static", filename=manifest.get(name, name))

    app.jinja_env.globals["asset"] = asset
