"""A visitor reading in Polish (``?lang=pl``) follows the links of the public pages: each one still
carries the language in its query (not glued into its path, as the idea list once did:
``/ideas?lang=pl/7``) and answers without an error."""

import re
from urllib.parse import urlsplit

from tests.support.factories import feasible_idea, open_round

HREF = re.compile(r'href="([^"#]*)')


def test_every_public_link_of_a_polish_visit_keeps_the_language_and_works(client, session, world):
    ideas = [feasible_idea(session, world, f"Idea {n}", 1_000 + n) for n in range(3)]
    open_round(session, world, ideas)
    session.commit()
    slug = world["team"].slug
    todo, seen, broken = [f"/teams/{slug}/ideas?lang=pl", f"/teams/{slug}?lang=pl"], set(), []
    while todo and len(seen) < 40:
        url = todo.pop(0)
        if url in seen:
            continue
        seen.add(url)
        page = client.get(url)
        if page.status_code >= 400:
            broken.append((url, page.status_code))
        if "text/html" not in page.content_type:  # a download (CSV, JSON, a photo): nothing to follow
            continue
        for href in HREF.findall(page.get_data(as_text=True)):
            parts = urlsplit(href.replace("&amp;", "&"))
            if parts.netloc or not parts.path.startswith("/") or parts.path.startswith(("/static", "/sign-out")):
                continue
            if re.search(r"lang=[^&]*/", parts.query):  # the path went on after the query
                broken.append((url, href))
            elif "lang=pl" in parts.query and parts.path.startswith(f"/teams/{slug}"):
                todo.append(f"{parts.path}?{parts.query}")
    assert f"/teams/{slug}/ideas/{ideas[0].id}?lang=pl" in seen  # the list's links were followed
    assert broken == []
