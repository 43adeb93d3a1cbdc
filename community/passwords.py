"""Password hashing (argon2id, argon2-cffi defaults: m=64 MiB, t=3, p=4) and the password policy."""

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from community.i18n import _

MIN_LENGTH = 8
MAX_LENGTH = 128
_hasher = PasswordHasher()


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash new passwords with ``hasher`` from now on; returns the one it replaces. Verifying
    reads the parameters from each stored hash, and a sign-in upgrades any hash made with
    parameters other than the current hasher's. Production never calls this: the test suite does,
    to make its thousands of throw-away hashes cheap (tests/conftest.py)."""
    global _hasher
    previous, _hasher = _hasher, hasher
    _dummy_hash.cache_clear()
    return previous


@cache
def _dummy_hash() -> str:
    """A timing-equaliser: verify against this when the account does not exist. Made on first
    use, not at import: one argon2 hash (64 MiB) costs every command's start-up ~0.1 s."""
    return _hasher.hash("not-a-real-password-but-takes-as-long")


@cache
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip().lower() for line in path.read_text().splitlines() if line)


def policy_problem(password: str) -> str | None:
    """Why this password is not acceptable, or None (length and a common-password list only)."""
    if len(password) < MIN_LENGTH:
        return _("Password must be %(num)s characters or more", num=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Password must be %(num)s characters or fewer", num=MAX_LENGTH)
    if password.lower() in _common_passwords():
        return _("That password is too common; choose one that is harder to guess")
    return None


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if the password matches; takes as long when there is no stored hash."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)
