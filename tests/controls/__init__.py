"""Controls of issue 14: who may decide, which dates, idempotency keys, digits and text."""
