"""Votes fixtures: ``world`` is the shared votes world (tests/support/factories.py: a place with
its team and £5,000 allocated, residents, team staff); ``pabulib`` is the sample elections."""

import pytest

from tests.votes import pabulib_data


@pytest.fixture
def pabulib():
    """The Pabulib sample data folder: skip (with the reason) when it is missing, fail under CI."""
    return pabulib_data.require()


@pytest.fixture
def world(votes_world):
    return votes_world
