"""UK postcodes: normalise one and find its outward code (the district, e.g. ``NG20``)."""

import re

# The outward code is 2–4 characters, the inward code is a digit and two letters.
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})$")


def normalise(raw: str) -> str | None:
    """``"ng20 8aa"`` → ``"NG20 8AA"``; None when it is not a UK postcode."""
    match = _POSTCODE.match(raw.strip().upper().replace("\u00a0", " "))
    if not match:
        return None
    return f"{match.group(1)} {match.group(2)}"


def outward_code(postcode: str) -> str:
    """The district part of a normalised postcode."""
    return postcode.split(" ", 1)[0]
