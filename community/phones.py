"""UK mobile numbers for text messages (issue 16): what a person types, checked with
``phonenumbers`` and kept in E.164 (``+447700900982``). The messages follow the GOV.UK Design
System's telephone number pattern."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberType

from community.errors import DomainError
from community.i18n import _

EXAMPLE = "07700 900 982"
# Ofcom keeps 07700 900000–900999 for drama and tests: never anyone's, and GOV.UK's own example.
# libphonenumber calls them invalid; they are accepted here as mobiles (Notify's test keys take them).
_OFCOM_DRAMA = re.compile(r"7700900\d{3}")
_TYPED = re.compile(r"[0-9+()\- ]+")  # digits and the separators people type; never letters


def uk_mobile(typed: str | None, *, field: str = "phone") -> str:
    """The UK mobile number ``typed`` in E.164; DomainError beside ``field`` otherwise."""
    text = " ".join((typed or "").split())
    if not text:
        raise DomainError(_("Enter a UK mobile number to get text messages"), field=field)
    if not _TYPED.fullmatch(text) or len(text) > 25:
        raise DomainError(_("Enter a UK mobile number, like %(example)s", example=EXAMPLE), field=field)
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        raise DomainError(_("Enter a UK mobile number, like %(example)s", example=EXAMPLE), field=field) from None
    if number.country_code != 44:
        raise DomainError(_("Enter a UK mobile number: we cannot send text messages to numbers outside the UK"),
                          field=field)
    if _OFCOM_DRAMA.fullmatch(str(number.national_number)):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(number):
        raise DomainError(_("Enter a UK mobile number, like %(example)s", example=EXAMPLE), field=field)
    if phonenumbers.number_type(number) != PhoneNumberType.MOBILE:
        raise DomainError(_("Enter a mobile number, not a landline, like %(example)s", example=EXAMPLE), field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
