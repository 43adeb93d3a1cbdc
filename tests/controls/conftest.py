"""Fixtures for the controls tests: the community factories and the votes world (a team with
£5,000 allocated, a member, an enabler, finance and residents)."""

from tests.community.conftest import make_person, place_and_team, sign_in  # noqa: F401 - fixtures
from tests.votes.conftest import world  # noqa: F401 - fixtures
