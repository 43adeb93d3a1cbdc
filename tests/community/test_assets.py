"""The static-file pipeline (issue 18): hashed names in the pages, immutable caching, Brotli on
request, the plain names still served, and no crash without a manifest."""

import re

from community import assets


def test_the_home_page_links_hashed_names(client):
    html = client.get("/").get_data(as_text=True)
    css = re.search(r'<link rel="stylesheet" href="(/static/build/app\.[0-9a-f]{12}\.css)"', html)
    js = re.search(r'<script type="module" src="(/static/build/js/app\.[0-9a-f]{12}\.mjs)"', html)
    assert css and js, html[:800]


def test_a_hashed_name_is_immutable_and_brotli_when_asked(client, app):
    name = app.extensions["asset_manifest"]["build/app.css"]
    response = client.get(f"/static/{name}", headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "br"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    plain = client.get(f"/static/{name}")
    assert "Content-Encoding" not in plain.headers and b".govuk-" in plain.get_data()


def test_a_plain_name_still_works_with_a_short_cache(client):
    response = client.get("/static/js/app.mjs")
    assert response.status_code == 200 and b"initAll" in response.get_data()
    assert "immutable" not in response.headers["Cache-Control"]
    assert "max-age=60" in response.headers["Cache-Control"]


def test_no_manifest_falls_back_to_plain_names(app, tmp_path, monkeypatch):
    assert assets.load_manifest(str(tmp_path)) == {}
    monkeypatch.setattr(assets, "load_manifest", lambda folder: {})
    from wsgi import create_app

    plain = create_app({**app.config, "ENV_NAME": "development"})
    html = plain.test_client().get("/").get_data(as_text=True)
    assert 'href="/static/build/app.css"' in html and 'src="/static/js/app.mjs"' in html
    from community.db import get_engine

    get_engine(plain).dispose()
