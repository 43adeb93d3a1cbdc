"""Issue 19: someone who cannot vote in an open round reads its ideas as a plain list, told why
they cannot vote: no disabled checkboxes, no running total of choices they cannot make."""

from tests.support.factories import feasible_idea, open_round


def _round(session, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Garden", 60_000)]
    rnd = open_round(session, world, ideas, budget=150_000, ballot_type="knapsack")
    session.commit()
    return f"/teams/{world['team'].slug}/rounds/{rnd.id}"


def test_a_visitor_sees_the_ideas_as_a_list_and_sign_in_to_vote(client, session, world):
    page = client.get(_round(session, world)).get_data(as_text=True)
    assert "Sign in to vote" in page and "Bench" in page and "£1,000.00" in page
    assert 'type="checkbox"' not in page and "disabled" not in page
    assert "data-ballot-total" not in page and "Review my choices" not in page


def test_a_resident_of_another_place_is_told_only_residents_of_the_place_can_vote(client, session, world, sign_in):
    url = _round(session, world)
    sign_in(world["outsider"])
    page = client.get(url).get_data(as_text=True)
    assert f"Only residents of {world['place'].name} can vote" in page and "Garden" in page
    assert 'type="checkbox"' not in page and "disabled" not in page and "data-ballot-total" not in page
