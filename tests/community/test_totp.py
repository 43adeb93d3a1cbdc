"""TOTP secrets at rest: the column holds a Fernet token, rotated keys still open it, production needs keys."""

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from community import totp
from wsgi import ConfigurationError, create_app


def test_the_stored_column_is_not_the_secret(session, make_person):
    person = make_person(role="admin")
    raw = session.execute(text("SELECT totp_secret FROM person WHERE id = :i"), {"i": person.id}).scalar_one()
    assert person.totp_secret and raw != person.totp_secret and person.totp_secret not in raw
    assert totp.unseal(raw) == person.totp_secret


def test_a_rotated_key_still_decrypts_and_reseal_moves_to_the_new_key(session, make_person):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = totp.seal("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", keyring=totp.keyring_from(old))
    rotated = totp.keyring_from(f"{new},{old}")
    assert totp.unseal(sealed, keyring=rotated) == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    with pytest.raises(totp.InvalidToken):
        totp.unseal(sealed, keyring=totp.keyring_from(new))


def test_production_without_keys_refuses_with_one_sentence(database_url):
    with pytest.raises(ConfigurationError, match=r"^Production needs THRIVING_TOTP_KEYS [^\n]*\.$"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": "p" * 40, "DATABASE_URL": database_url})
