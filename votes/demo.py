"""Demo ideas for ``flask --app wsgi demo load``: a few ideas in Shirebrook in each state of
review, proposed by the demo residents, with supports. No round is opened (a round holds
money, and the demo's ledger history is loaded separately)."""

from sqlmodel import Session, select

from community.models import Membership, Person, Team
from votes import services


def load(session: Session) -> None:
    team = session.exec(select(Team).where(Team.slug == "shirebrook")).first()
    if team is None or session.exec(select(Person).where(Person.place_id == team.place_id)).first() is None:
        return
    residents = list(session.exec(select(Person).where(Person.place_id == team.place_id).order_by(Person.id)))
    reviewer = session.exec(select(Membership).where(Membership.team_id == team.id)).first()
    ideas = [
        ("Planters on Main Street", "Flower planters outside the shops, looked after by the school garden club.",
         30_000, "feasible", 35_000, None),
        ("Youth club kit", "A pool table and games for the Tuesday youth club at the Welfare hall.",
         50_000, "feasible", 48_000, None),
        ("Bulbs for the rec", "Spring bulbs along the path in the recreation ground, planted by volunteers.",
         20_000, "proposed", None, None),
        ("Benches by the pond", "Two benches by the pond in the park so older people can rest on the walk.",
         90_000, "needs_changes", None, "Which pond? Tell us where exactly, and whether the council owns the land."),
    ]
    for n, (title, text, cost, decision, team_cost, note) in enumerate(ideas):
        proposer = residents[n % len(residents)]
        idea = services.propose_idea(session=session, team=team, proposer=proposer, title=title,
                                     description=text, estimated_cost_pence=cost)
        for supporter in residents:
            if supporter.id != proposer.id:
                services.support(session=session, idea_id=idea.id, person=supporter)
        if decision != "proposed" and reviewer is not None:
            services.review_idea(session=session, team=team, idea_id=idea.id, reviewer_id=reviewer.person_id,
                                 decision=decision, team_cost_pence=team_cost, note=note)
