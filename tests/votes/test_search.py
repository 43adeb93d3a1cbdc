"""Ideas residents can find (issue 17): words, stemming, hostile syntax, filters and pages, on
SQLite (FTS5) and PostgreSQL (full-text search), through votes.search.find_ideas and the list."""

import pytest

from community.errors import NotFound
from tests.support.factories import feasible_idea
from votes import search, services
from votes.models import Idea


def _idea(session, world, title, description="", category=None):
    idea = services.propose_idea(session=session, team=world["team"], proposer=world["residents"][0], title=title,
                                 description=description or f"{title} for everyone", estimated_cost_pence=10_000,
                                 category=category)
    return idea


@pytest.fixture
def ideas(session, world):
    made = {
        "benches": _idea(session, world, "Benches by the pond", "Two benches so older people can rest",
                         "older_people"),
        "lights": _idea(session, world, "Christmas lights", "Lights in the square's trees", "community_events"),
        "bins": _idea(session, world, "Dog waste bins", "Three bins along the path", "environment"),
    }
    feasible_idea(session, world, "Planting bulbs", 5_000)
    session.commit()
    return made


def _titles(page):
    return sorted(row.title for row in page.rows)


def test_words_find_ideas_in_title_and_description(session, world, ideas):
    assert _titles(search.find_ideas(session=session, team=world["team"], words="pond")) == ["Benches by the pond"]
    assert _titles(search.find_ideas(session=session, team=world["team"], words="square trees")) == ["Christmas lights"]
    assert _titles(search.find_ideas(session=session, team=world["team"], words="square pond")) == []


def test_english_stemming_finds_other_forms_of_a_word(session, world, ideas):
    assert _titles(search.find_ideas(session=session, team=world["team"], words="bench")) == ["Benches by the pond"]
    assert _titles(search.find_ideas(session=session, team=world["team"], words="resting")) == ["Benches by the pond"]
    assert "Planting bulbs" in _titles(search.find_ideas(session=session, team=world["team"], words="plant"))


def test_search_follows_a_changed_title(session, world, ideas):
    idea = session.get(Idea, ideas["lights"].id)
    idea.title = "Festive lanterns"
    session.commit()
    assert _titles(search.find_ideas(session=session, team=world["team"], words="lanterns")) == ["Festive lanterns"]
    assert _titles(search.find_ideas(session=session, team=world["team"], words="christmas")) == []


@pytest.mark.parametrize("hostile", [
    '"pond', 'pond"', "po*", "*", "pond NEAR bench", "NEAR(pond bench)", "-pond", "pond -bench", "(pond",
    "pond)", "((()", "title:pond", "pond OR", "AND", "NOT pond", "^pond", "pond & | ! bench", "'; DROP TABLE x; --",
    "\\", "\x00pond", "'", ":*", "<->", "ü", "💡 pond",
])
def test_hostile_search_syntax_never_errors(session, world, ideas, hostile):
    page = search.find_ideas(session=session, team=world["team"], words=hostile)
    assert page.page == 1 and page.total >= 0
    if search.words_of(hostile) == ["pond"]:
        assert "Benches by the pond" in _titles(page)


def test_filters_by_status_and_category(session, world, ideas):
    team = world["team"]
    assert _titles(search.find_ideas(session=session, team=team, category="environment")) == ["Dog waste bins"]
    assert _titles(search.find_ideas(session=session, team=team, status="feasible")) == ["Planting bulbs"]
    assert _titles(search.find_ideas(session=session, team=team, status="proposed", category="older_people",
                                     words="rest")) == ["Benches by the pond"]
    for bad in (dict(status="hidden"), dict(status="nonsense"), dict(category="weapons")):
        with pytest.raises(ValueError):
            search.find_ideas(session=session, team=team, **bad)


def test_pages_and_their_edges(session, world, ideas):
    team = world["team"]
    first = search.find_ideas(session=session, team=team, per_page=3)
    assert (first.total, first.pages, len(first.rows)) == (4, 2, 3)
    second = search.find_ideas(session=session, team=team, per_page=3, page=2)
    assert len(second.rows) == 1 and {r.id for r in second.rows}.isdisjoint({r.id for r in first.rows})
    for page in (3, 10**9, 0, -1):
        with pytest.raises(NotFound):
            search.find_ideas(session=session, team=team, per_page=3, page=page)
    empty = search.find_ideas(session=session, team=team, words="zebra")
    assert (empty.total, empty.pages, empty.rows) == (0, 1, [])


def test_the_list_filters_searches_and_pages_with_a_plain_get(client, session, world, ideas):
    page = client.get(f"/teams/{world['team'].slug}/ideas?q=pond&status=&category=older_people")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Benches by the pond" in html and "Dog waste bins" not in html


@pytest.mark.parametrize("query, status, sentence", [
    ("page=999999999999999999999", 404, "There is no page"),
    ("page=abc", 404, "There is no page"),
    ("page=0", 404, "There is no page"),
    ("category=weapons", 200, "There is no category"),
    ("status=hidden", 200, "There is no status"),
    ("q=%22NEAR(*&page=1", 200, "No ideas match"),
])
def test_bad_list_input_is_a_sentence_never_a_500(client, world, ideas, query, status, sentence):
    page = client.get(f"/teams/{world['team'].slug}/ideas?{query}")
    assert page.status_code == status
    assert sentence in page.get_data(as_text=True)


def test_hidden_ideas_are_never_found(session, world, ideas):
    services.review_idea(session=session, team=world["team"], idea_id=ideas["bins"].id,
                         reviewer_id=world["member"].id, decision="hidden", note="abusive")
    session.commit()
    assert _titles(search.find_ideas(session=session, team=world["team"], words="bins")) == []
