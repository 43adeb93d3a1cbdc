"""TOTP secrets encrypted at rest: the keys, and the column type every read and write goes through.

``Person.totp_secret`` is a :class:`SealedSecret` column: Python code sees the base32 secret,
the database holds only a Fernet token (AES-128-CBC + HMAC-SHA256) of it. Nothing else reads
or writes the column, so no caller can forget to encrypt or decrypt (services, the demo loader,
the CLI and the tests' factories all go through :func:`seal` and :func:`unseal`).

Keys (``TOTP_KEYS``, from ``THRIVING_TOTP_KEYS``): a comma-separated list of Fernet keys in a
``MultiFernet``: the first encrypts, every one decrypts. Rotation: put a new key first, run
``flask --app wsgi users encrypt-secrets`` (re-encrypts every secret under the first key), then
drop the old key. Development and testing generate one key once into ``instance/totp_keys``;
production refuses to start without ``THRIVING_TOTP_KEYS``.

A value that is not a Fernet token is a secret stored before encryption (plain base32): it is
read as it is, and ``users encrypt-secrets`` (run by ``make run``) encrypts it in place.
"""

import re
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet  # noqa: F401 - InvalidToken: for callers
from flask import Flask, current_app, has_app_context
from sqlalchemy import String, text
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

DEV_KEYS_FILE = "totp_keys"
SEALED_LENGTH = 255  # a Fernet token of a 32-character secret is 140 characters
_EXTENSION = "totp_keyring"
_PLAIN = re.compile(r"[A-Z2-7]{16,64}=*")  # base32: what secrets were before encryption
# The keyring of the development or testing app built last: for code outside an app context
# (service tests, the tests' factories). Production code always runs in an app context.
_latest: MultiFernet | None = None


class TotpKeysError(ValueError):
    """The configured keys are not usable (the message names the variable)."""


def keyring_from(keys: str | list[str]) -> MultiFernet:
    """A MultiFernet from a comma-separated string or a list of Fernet keys (first encrypts)."""
    items = [k.strip() for k in (keys.split(",") if isinstance(keys, str) else keys) if k and k.strip()]
    if not items:
        raise TotpKeysError("THRIVING_TOTP_KEYS is empty: it needs at least one Fernet key.")
    try:
        return MultiFernet([Fernet(k.encode()) for k in items])
    except (ValueError, TypeError) as exc:
        raise TotpKeysError(
            "THRIVING_TOTP_KEYS must be comma-separated Fernet keys (32 url-safe base64 bytes each)."
        ) from exc


def development_keys(instance_path: str | Path) -> str:
    """The development key in ``instance/totp_keys``, generated once (mode 0600)."""
    path = Path(instance_path) / DEV_KEYS_FILE
    if not path.exists():
        path.write_text(Fernet.generate_key().decode() + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def configure(app: Flask, *, development: bool) -> None:
    """Set the app's keyring from ``TOTP_KEYS``; in development and testing a generated key.

    Raises ``TotpKeysError`` (one sentence) when production has no usable keys."""
    global _latest
    keys = app.config["TOTP_KEYS"]
    if not keys:
        if not development:
            raise TotpKeysError(
                "Production needs THRIVING_TOTP_KEYS (comma-separated Fernet keys; see the README)."
            )
        keys = development_keys(app.instance_path)
    elif not development and isinstance(keys, str):
        dev_file = Path(app.instance_path) / DEV_KEYS_FILE
        if dev_file.exists() and dev_file.read_text().strip() in {k.strip() for k in keys.split(",")}:
            raise TotpKeysError("Production refuses the development TOTP key in instance/.")
    keyring = keyring_from(keys)
    app.extensions[_EXTENSION] = keyring
    if development:  # only tests run code outside an app context; production never falls back
        _latest = keyring


def _keyring() -> MultiFernet:
    if has_app_context() and _EXTENSION in current_app.extensions:
        return current_app.extensions[_EXTENSION]
    if _latest is None:  # a test script with no app yet (tests/prove/harness.py seeding a database)
        return keyring_from(development_keys(Path(__file__).resolve().parent.parent / "instance"))
    return _latest


def seal(secret: str, *, keyring: MultiFernet | None = None) -> str:
    """The secret encrypted under the first key (what the database stores)."""
    return (keyring or _keyring()).encrypt(secret.encode()).decode()


def unseal(stored: str, *, keyring: MultiFernet | None = None) -> str:
    """The secret from what the database stores (a Fernet token, or a legacy plain secret).

    Raises ``InvalidToken`` when no configured key opens it: never guess a secret."""
    if is_plain(stored):
        return stored
    return (keyring or _keyring()).decrypt(stored.encode()).decode()


def is_plain(stored: str) -> bool:
    """True for a secret stored before encryption (plain base32)."""
    return bool(_PLAIN.fullmatch(stored))


class SealedSecret(TypeDecorator):
    """A string column stored encrypted: ``seal`` on the way in, ``unseal`` on the way out."""

    impl = String(SEALED_LENGTH)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else seal(value)

    def process_result_value(self, value, dialect):
        return None if value is None else unseal(value)


def reseal_all(session: Session, *, keyring: MultiFernet | None = None) -> tuple[int, int]:
    """Encrypt legacy plain secrets and re-encrypt every secret under the first key.

    Reads and writes the raw column (plain SQL, not through ``SealedSecret``). Returns
    (encrypted, rotated). Raises ``InvalidToken`` if a stored secret opens with none of the keys
    (the caller rolls back: nothing is written then)."""
    keyring = keyring or _keyring()
    lock = "" if session.get_bind().dialect.name == "sqlite" else " FOR UPDATE"  # SQLite: BEGIN IMMEDIATE
    rows = session.execute(
        text(f"SELECT id, totp_secret FROM person WHERE totp_secret IS NOT NULL ORDER BY id{lock}")  # noqa: S608 - constant
    ).all()
    encrypted = rotated = 0
    for person_id, stored in rows:
        if is_plain(stored):
            new, encrypted = keyring.encrypt(stored.encode()).decode(), encrypted + 1
        else:
            new, rotated = keyring.rotate(stored.encode()).decode(), rotated + 1
        session.execute(text("UPDATE person SET totp_secret = :v WHERE id = :i"), {"v": new, "i": person_id})
    return encrypted, rotated
