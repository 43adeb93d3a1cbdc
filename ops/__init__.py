"""Operations above every domain: backup and restore (they check the copy with the ledger's verify)."""
