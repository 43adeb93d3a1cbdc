"""Demo data for every domain, loaded in one go by ``flask --app wsgi demo load`` (``make run``
does it once, on an empty database). This package sits above every domain and builds
everything through their services; no domain imports it."""

import datetime as dt

from sqlmodel import Session

from community.db import utcnow
from demo import ledger, people, pledges, spend, votes


def load(session: Session, *, secret: str, today: dt.date) -> bool:
    """Places, teams and people; ideas and pledges; 13 months of ledger history; quick spend
    requests; Shirebrook's two voting rounds; photos of a few ideas and steps (in the app's photos
folder: call it in an app context). False (and nothing done) when already loaded."""
    result = people.load(session)
    if not result["created"]:
        return False
    votes.load(session)
    pledges.load_demo_pledges(session, teams=result["teams"], members=result["members"])
    ledger.load_demo_history(session, teams=result["teams"], finance=result["finance"],
                             members=result["members"], today=today)
    spend.load_spend_demo(session, teams=result["teams"], members=result["members"], today=today)
    votes.load_rounds(session, secret=secret, now=utcnow())  # now: the history takes a while
    return True
