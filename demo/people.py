"""Demo people: the eight places and Connected Teams, demo staff with printed TOTP secrets, residents.

Loaded by :func:`demo.load` (``flask --app wsgi demo load``; ``make run`` does it once, on an
empty database). Demo accounts are flagged ``is_demo`` so that ``users demo-code`` works for them only.
"""

import hashlib

from sqlmodel import Session, select

from community import passwords
from community.models import Membership, Person, Place, PostcodeDistrict, Team

DEMO_PASSWORD = "thriving-demo-2026"  # noqa: S105 - printed on purpose: demo accounts only
DEMO_DOMAIN = "demo.thriving.example.org"

# place, local authority district, postcode districts, cost centre, team staff first names
PLACES = [
    ("Shirebrook", "Bolsover", ["NG20"], "TC1001", ("Asha", "Ben", "Carol")),
    ("Gamesley", "High Peak", ["SK13"], "TC1002", ("Dev", "Ellen", "Farid")),
    ("Cotmanhay", "Erewash", ["DE7"], "TC1003", ("Gemma", "Harun", "Isla")),
    ("Newhall", "South Derbyshire", ["DE11"], "TC1004", ("Jas", "Kieran", "Lena")),
    ("Danesmoor", "North East Derbyshire", ["S45"], "TC1005", ("Mo", "Niamh", "Owen")),
    ("Ashbourne", "Derbyshire Dales", ["DE6"], "TC1006", ("Priya", "Quinn", "Rosa")),
    ("Langley Mill", "Amber Valley", ["NG16"], "TC1007", ("Sam", "Tariq", "Uma")),
    ("Staveley", "Chesterfield", ["S43"], "TC1008", ("Vic", "Wendy", "Yusuf")),
]
SURNAMES = ("Patel", "Hughes", "Walker")
# Shirebrook's residents vote in the demo rounds (demo/votes.py); Rita has not voted in the open one.
RESIDENTS = [("Rita Morgan", "NG20 8AA"), ("Tom Burton", "NG20 8QJ"), ("Amira Khan", "SK13 0LE"),
             ("Jack Bell", "DE7 8QT"), ("Dawn Fletcher", "NG20 8DG"), ("Kevin Ward", "NG20 8LP"),
             ("Sue Holmes", "NG20 9AB")]


def totp_secret_for(email: str) -> str:
    """A stable base32 TOTP secret per demo account, so reloading the demo keeps phones working."""
    digest = hashlib.sha256(f"thriving-demo:{email}".encode()).digest()
    import base64

    return base64.b32encode(digest[:20]).decode()


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def load(session: Session) -> dict:
    """Create the demo places, teams and people (idempotent: does nothing if they exist)."""
    if session.exec(select(Team).limit(1)).first() is not None:
        return {"created": False}
    password_hash = passwords.hash_password(DEMO_PASSWORD)

    def person(name: str, email: str, **flags) -> Person:
        p = Person(name=name, email=email, password_hash=password_hash, is_demo=True, **flags)
        session.add(p)
        return p

    teams, members = [], {}
    for place_name, district, codes, cost_centre, staff in PLACES:
        place = Place(name=place_name, slug=_slug(place_name), district=district)
        session.add(place)
        session.flush()
        for code in codes:
            session.add(PostcodeDistrict(outward_code=code, place_id=place.id))
        team = Team(name=f"{place_name} Connected Team", slug=_slug(place_name),
                    place_id=place.id, cost_centre=cost_centre)
        session.add(team)
        session.flush()
        teams.append(team)
        people = []
        for first, surname, role in zip(staff, SURNAMES, ("enabler", "member", "member"), strict=True):
            email = f"{first.lower()}.{_slug(place_name)}@{DEMO_DOMAIN}"
            p = person(f"{first} {surname}", email, totp_secret=totp_secret_for(email))
            session.flush()
            session.add(Membership(team_id=team.id, person_id=p.id, role=role))
            people.append(p)
        members[team.id] = people
    finance = person("Fiona Finance", f"finance@{DEMO_DOMAIN}", is_finance=True,
                     totp_secret=totp_secret_for(f"finance@{DEMO_DOMAIN}"))
    person("Adam Admin", f"admin@{DEMO_DOMAIN}", is_admin=True, totp_secret=totp_secret_for(f"admin@{DEMO_DOMAIN}"))
    session.flush()
    for name, postcode in RESIDENTS:
        code = postcode.split()[0]
        district = session.get(PostcodeDistrict, code)
        email = f"{name.split()[0].lower()}@{DEMO_DOMAIN}"
        person(name, email, postcode=postcode, place_id=district.place_id if district else None)
    session.flush()
    return {"created": True, "teams": teams, "members": members, "finance": finance}


def list_accounts(session: Session) -> list[Person]:
    """Every demo account, staff first."""
    people = session.exec(select(Person).where(Person.is_demo).order_by(Person.id)).all()
    return sorted(people, key=lambda p: (p.totp_secret is None, p.id))
