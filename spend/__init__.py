"""Quick spend: a team asks, a second person approves, the ledger commits and pays (above votes and pledges)."""
