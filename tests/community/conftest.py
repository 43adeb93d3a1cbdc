"""Community fixtures: ``world`` is the shared votes world (tests/support/factories.py: a place,
its team with £5,000, residents, staff); ``sources`` is every module's registered personal data
(community.rights), as the download and deletion read it."""

import pytest

from community import rights


@pytest.fixture
def world(votes_world):
    return votes_world


@pytest.fixture
def sources(app):
    return rights.registered(app)
