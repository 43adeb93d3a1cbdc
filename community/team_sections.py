"""What the domains above community add to a team's page (community/team.html).

community sits at the bottom of the layers and must not know votes, so a domain offers a section
through this small registry, wired in ``wsgi.register_next_steps``: a provider
``(session, team) -> Section | None`` answers with the template to include and its context
(votes: where each funded idea is, issue 17). Providers are asked in the order registered.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app

from community.models import Team

_EXTENSION = "thriving_team_sections"


@dataclass(frozen=True)
class Section:
    template: str
    context: dict = field(default_factory=dict)


def register(app: Flask, provider: Callable) -> None:
    app.extensions.setdefault(_EXTENSION, []).append(provider)


def sections(session, team: Team) -> list[Section]:
    """The sections each domain has for ``team``'s page (those with nothing to show left off)."""
    found = (provider(session, team) for provider in current_app.extensions.get(_EXTENSION, []))
    return [section for section in found if section is not None]
