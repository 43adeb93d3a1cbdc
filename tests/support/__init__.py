"""Shared test support: the factories every package's tests build on (a pytest plugin loaded by
tests/conftest.py) and the one race harness (race.py)."""
