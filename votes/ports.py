"""What votes shows but does not own: the quick spend paid against a funded idea, and the spend
approved against it that is waiting for payment.

Quick spend (spend/) sits above votes and may not be imported here, so it offers the lines through
this port, wired in ``wsgi.register_ports``; without a provider an idea simply has no spend.
A provider is ``(*, session, idea_id) -> list`` of rows with ``date``, ``payee`` and ``amount_pence``;
the waiting provider ``(*, session, idea_id) -> int`` (pence).
"""

from collections.abc import Callable

from flask import Flask, current_app

_EXTENSION = "votes_idea_spend"
_WAITING = "votes_idea_spend_waiting"


def register_idea_spend(app: Flask, provider: Callable) -> None:
    app.extensions[_EXTENSION] = provider


def idea_spend(*, session, idea_id: int) -> list:
    provider = current_app.extensions.get(_EXTENSION)
    return provider(session=session, idea_id=idea_id) if provider is not None else []


def register_idea_waiting(app: Flask, provider: Callable) -> None:
    app.extensions[_WAITING] = provider


def idea_waiting(*, session, idea_id: int) -> int:
    provider = current_app.extensions.get(_WAITING)
    return provider(session=session, idea_id=idea_id) if provider is not None else 0
