"""Notifications go out in the recipient's language (issue 16): a Polish proposer is told the review
in Polish, with the one-click unsubscribe footer in Polish, while an English one stays English."""

import re

from sqlalchemy import select

from community.models import MailMessage
from votes import services


def test_the_review_email_is_in_the_proposers_language(app, session, world):
    polish, english = world["residents"][0], world["residents"][1]
    polish.language = "pl"
    session.add(polish)
    session.commit()
    with app.test_request_context("/?lang=ro"):  # the reviewer's own request is in another language
        for person, title in ((polish, "Ławki"), (english, "Benches")):
            idea = services.propose_idea(session=session, team=world["team"], proposer=person, title=title,
                                         description="Two benches", estimated_cost_pence=40_000)
            services.review_idea(session=session, team=world["team"], idea_id=idea.id,
                                 reviewer_id=world["member"].id, decision="not_feasible", note="Not ours")
        session.commit()
    mail = {m.to_address: m for m in session.execute(select(MailMessage)).scalars()}
    pl = mail[polish.email]
    assert pl.subject == "Twój pomysł „Ławki” jest niewykonalny"
    assert pl.body.startswith(f"Dzień dobry, {polish.first_name},")
    assert "Otrzymujesz tę wiadomość z powodu wyborów na stronie Twojego konta." in pl.body
    assert re.search(r"/unsubscribe/\S+\?lang=pl\n", pl.body) and "lang=ro" not in pl.body  # never the reviewer's
    en = mail[english.email]
    assert en.subject == "Your idea “Benches” is not feasible"
    assert "You get this because of your choices on your account page." in en.body
    assert "lang=ro" not in en.body
