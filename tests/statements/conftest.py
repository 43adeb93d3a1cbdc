"""Statement tests use the ledger's people fixture (a place, two teams, a finance officer)."""

from tests.ledger.conftest import people  # noqa: F401 - a fixture
