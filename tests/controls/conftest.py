"""Fixtures for the controls tests: ``world`` is the shared votes world (tests/support/factories.py:
a team with £5,000 allocated, a member, an enabler, finance and residents)."""

import pytest


@pytest.fixture
def world(votes_world):
    return votes_world
