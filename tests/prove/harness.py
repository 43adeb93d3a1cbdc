"""The proving harness: a real gunicorn on loopback, real HTTP clients, seeded people.

Everything here is generic on purpose: routes, forms and permissions are discovered from the
app (its URL map and the pages it serves), so routes added by later merges are covered without
editing these tests. Extension points for domains that arrive later:

* ``ARG_FACTORIES`` — how to build a URL argument (e.g. ``request_id``) for "own" and
  "other" team objects, used by the access-control matrix and the CSRF sweep.
* ``race_virement`` in ``test_race.py`` is one ``RaceTarget``; a quick-spend approval route
  is another — see ``RaceTarget`` below.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pyotp
import requests
from sqlalchemy import func, select, text

from community.db import make_engine, open_session
from tests.support.clock import today

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
SECRET = "prove-secret-" + "y" * 40
PASSWORD = "correct horse battery"
COOKIE = "thriving-session"  # the development/testing cookie name (production: __Host-session)


def free_port() -> int:
    """An OS-assigned free port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- the server


class Server:
    """``gunicorn --workers 4 --threads 4 'wsgi:create_app()'`` on 127.0.0.1, started by PID.

    ``app`` may name another entry point (``tests.prove.unsafe_app:create_app()`` runs the same
    app with the ledger lock, and on request the ballot upsert, switched off, for the xfail
    variants of the races).
    """

    def __init__(self, database_url: str, workdir: Path, *, env: dict | None = None,
                 app: str = "wsgi:create_app()", workers: int = 4, threads: int = 4):
        self.database_url = database_url
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.extra_env = env or {}
        self.app = app
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "gunicorn.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict:
        env = {
            **os.environ,
            "THRIVING_ENV": "testing",
            "THRIVING_SECRET_KEY": SECRET,
            "THRIVING_DATABASE_URL": self.database_url,
            "THRIVING_RATELIMIT_ENABLED": "false",
            "THRIVING_OUTBOX_DIR": str(self.workdir / "outbox"),
            "THRIVING_RECEIPTS_DIR": str(self.workdir / "receipts"),
            "THRIVING_INSTANCE_UPLOADS": str(self.workdir / "uploads"),  # photos of ideas and delivery steps
            "PYTHONPATH": str(ROOT),
        }
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 40) -> Server:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(GUNICORN), "--workers", str(self.workers), "--threads", str(self.threads),
             "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "3", "--timeout", "60",
             self.app],
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: master and workers die together
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout}s:\n{self.log()}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's processes (its process group,
        master and live workers), read from /proc: the server's own cost, whatever else the
        machine is doing. 0.0 where there is no /proc."""
        if self.process is None:
            return 0.0
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended while we looked
            if int(fields[2]) == self.process.pid:  # pgrp (field 5 of stat)
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return total / tick

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def _signal_group(self, sig: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the master and every worker at once (a crash, not a shutdown)."""
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def error_lines(self) -> list[str]:
        """Tracebacks logged by the server (a 5xx that the client might not have seen)."""
        return [line for line in self.log().splitlines() if "Traceback" in line]


# --------------------------------------------------------------------------- seeding


@dataclass
class Actor:
    """A seeded person and the role they play in the matrix."""

    role: str
    person_id: int
    email: str
    totp_secret: str | None
    team_slug: str | None = None


@dataclass
class World:
    """What the seed made: two teams (A is "own", B is "other") and one actor per role."""

    database_url: str
    team_a: str
    team_b: str
    team_a_id: int
    team_b_id: int
    actors: dict[str, Actor] = field(default_factory=dict)
    objects: dict[str, dict[str, object]] = field(default_factory=dict)


ROLES = ("anonymous", "resident", "member", "other_member", "enabler", "finance", "admin")


def seed(database_url: str) -> World:
    """Places, two teams and a person per role, through the real services (TOTP for staff)."""
    from community import services
    from community.models import Membership, Place, PostcodeDistrict

    engine = make_engine(database_url)
    with open_session(engine, write=True) as s:
        place = Place(name="Shirebrook", slug="shirebrook", district="Bolsover")
        s.add(place)
        s.flush()
        s.add(PostcodeDistrict(outward_code="NG20", place_id=place.id))
        team_a = services.create_team(s, actor_id=None, name="Alpha Connected Team", slug="alpha",
                                      place_id=place.id, cost_centre="TC0001")
        team_b = services.create_team(s, actor_id=None, name="Beta Connected Team", slug="beta",
                                      place_id=place.id, cost_centre="TC0002")
        world = World(database_url, team_a.slug, team_b.slug, team_a.id, team_b.id)
        for role in ROLES[1:]:
            person = services.sign_up_resident(s, name=f"{role.title()} Person", email=f"{role}@example.org",
                                               password=PASSWORD, postcode="NG20 8AA")
            slug = None
            if role in ("member", "enabler"):
                s.add(Membership(team_id=team_a.id, person_id=person.id,
                                 role="enabler" if role == "enabler" else "member"))
                slug = team_a.slug
            elif role == "other_member":
                s.add(Membership(team_id=team_b.id, person_id=person.id, role="member"))
                slug = team_b.slug
            elif role == "finance":
                person.is_finance = True
            elif role == "admin":
                person.is_admin = True
            if role != "resident":
                person.totp_secret = pyotp.random_base32()
            s.add(person)
            s.flush()
            world.actors[role] = Actor(role, person.id, person.email, person.totp_secret, slug)
        s.commit()
    engine.dispose()
    return world


def fund(database_url: str, team_id: int, pence: int, actor_id: int, key: str) -> None:
    """Allocate money to a team through the ledger service."""

    from community.models import Team
    from ledger import services as ledger

    engine = make_engine(database_url)
    with open_session(engine, write=True) as s:
        ledger.allocate(gl_code="R1000", session=s, team=s.get(Team, team_id), amount_pence=pence, actor_id=actor_id,
                        effective_date=today(), idempotency_key=key)
        s.commit()
    engine.dispose()


def verify(database_url: str):
    """``ledger verify`` on the database (the same function the CLI calls)."""
    from ledger import services as ledger

    engine = make_engine(database_url)
    try:
        with open_session(engine, write=False) as s:
            return ledger.verify(session=s)
    finally:
        engine.dispose()


_engines: dict[str, object] = {}


def engine_for(database_url: str):
    """One engine per database for the test process's own reads (not the server's)."""
    if database_url not in _engines:
        _engines[database_url] = make_engine(database_url)
    return _engines[database_url]


def scalar(database_url: str, statement):
    with open_session(engine_for(database_url), write=False) as s:
        return s.execute(statement).scalar_one()


def table_counts(database_url: str) -> dict[str, int]:
    """Row count of every table (a cheap "was anything written?" checksum)."""
    from sqlmodel import SQLModel

    import community.models  # noqa: F401 - registers the tables on the metadata
    import ledger.models  # noqa: F401

    with open_session(engine_for(database_url), write=False) as s:
        counts = {}
        for table in SQLModel.metadata.sorted_tables:
            try:
                with s.begin_nested():
                    counts[table.name] = s.execute(select(func.count()).select_from(table)).scalar_one()
            except Exception:  # noqa: S112 - a table of a domain not migrated on this branch
                continue
        return counts


def writes_excluding_sessions(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Tables whose row count changed, ignoring sign-in bookkeeping."""
    ignore = {"auth_session", "audit_event"}
    return {t: after.get(t, 0) - n for t, n in before.items() if after.get(t, 0) != n and t not in ignore}


# --------------------------------------------------------------------------- clients


class FormParser(HTMLParser):
    """Every <form> on a page: action, method, and its named fields with their values."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                          "enctype": a.get("enctype") or "", "fields": {}, "types": {}, "options": {}}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                self._form["options"].setdefault(a["name"], []).append(a.get("value") or "y")
                self._form["types"].setdefault(a["name"], kind)
                return
            if kind in ("submit", "button", "image"):
                return
            self._form["fields"][a["name"]] = a.get("value") or ""
            self._form["types"][a["name"]] = kind
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self._form["fields"].setdefault(a["name"], "")
            self._form["types"][a["name"]] = "select"
        elif tag == "option" and self._select:
            value = a.get("value", "")
            self._form["options"].setdefault(self._select, []).append(value)
            if "selected" in a or not self._form["fields"][self._select]:
                self._form["fields"][self._select] = value
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form["fields"][a["name"]] = ""
            self._form["types"][a["name"]] = "textarea"

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms_of(html: str) -> list[dict]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_of(html: str) -> str | None:
    match = CSRF_RE.search(html)
    return (match.group(1) or match.group(2)) if match else None


class Browser:
    """One person's ``requests.Session`` against the server: sign-in with TOTP, CSRF-aware posts."""

    def __init__(self, base_url: str):
        self.base = base_url
        self.http = requests.Session()
        self.token: str | None = None

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 30)
        return self.http.get(self.base + path, **kw)

    def csrf(self, path: str = "/sign-in") -> str:
        """This session's CSRF token, scraped from a page with a form."""
        response = self.get(path)
        token = csrf_of(response.text)
        if token is None:
            raise AssertionError(f"no CSRF token on {path} ({response.status_code})")
        self.token = token
        return token

    def post(self, path: str, data: dict | None = None, *, csrf: bool | str = True, **kw) -> requests.Response:
        data = dict(data or {})
        if csrf is True:
            data["csrf_token"] = self.token or self.csrf()
        elif isinstance(csrf, str):
            data["csrf_token"] = csrf
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 60)
        return self.http.post(self.base + path, data=data, **kw)

    def sign_in(self, actor: Actor, password: str = PASSWORD) -> requests.Response:
        """Through the real forms; for staff also the TOTP step (next step's code if needed)."""
        response = self.post("/sign-in", {"email": actor.email, "password": password})
        if response.status_code != 302:
            return response
        if response.headers["Location"].endswith("/sign-in/code"):
            self.token = None
            totp = pyotp.TOTP(actor.totp_secret)
            for when in (time.time(), time.time() + 30, time.time() + 60):
                response = self.post("/sign-in/code", {"code": totp.at(when)}, csrf=self.csrf("/sign-in/code"))
                if response.status_code == 302:
                    break
        self.token = None  # the session was renewed at sign-in: the token belongs to the old one
        return response

    @property
    def cookie(self) -> str | None:
        return self.http.cookies.get(COOKIE)


_local_app = None
_local_lock = threading.Lock()


def _app_for(database_url: str):
    """A local app with the server's configuration, used only to sign cookies."""
    global _local_app
    from wsgi import create_app

    with _local_lock:
        if _local_app is None or _local_app.config["DATABASE_URL"] != database_url:
            if _local_app is not None:
                from community.db import get_engine

                get_engine(_local_app).dispose()
            _local_app = create_app({"ENV_NAME": "testing", "TESTING": True, "SECRET_KEY": SECRET,
                                     "DATABASE_URL": database_url, "RATELIMIT_ENABLED": False})
        return _local_app


def minted_browser(base_url: str, database_url: str, actor: Actor | None, *,
                   second_factor: bool | None = None) -> Browser:
    """A browser already signed in as ``actor`` (with second factor), without the HTTP sign-in.

    The session row is created by ``services.start_session`` and the cookie is signed exactly
    as the app signs it; the server then treats it like any other sign-in. Used where many
    sessions are needed (TOTP codes are single-use per person, so HTTP sign-ins would queue).
    """
    browser = Browser(base_url)
    if actor is None:
        return browser
    value = minted_cookie(_app_for(database_url), actor.person_id, second_factor=second_factor)
    browser.http.cookies.set(COOKIE, value, domain="127.0.0.1", path="/")
    return browser


def minted_cookie(app, person_id: int, *, second_factor: bool | None = None) -> str:
    """The signed session cookie of a new sign-in of ``person_id`` on ``app`` (second factor:
    as the person has one, unless said), made by ``services.start_session`` as the app makes it."""
    from flask import session as cookie
    from flask_login import login_user

    from community import services
    from community.auth import CurrentUser, load_roles
    from community.db import get_session
    from community.models import AuthSession, Person

    with app.test_request_context("/", method="POST"):
        s = get_session()
        person = s.get(Person, person_id)
        if second_factor is None:
            second_factor = bool(person.totp_secret)
        token = services.start_session(s, person=person, second_factor=second_factor)
        s.commit()
        auth = s.execute(select(AuthSession).order_by(AuthSession.id.desc()).limit(1)).scalar_one()
        cookie.permanent = True
        login_user(CurrentUser(person, auth, token, load_roles(s, person.id)), fresh=True)
        return app.session_interface.get_signing_serializer(app).dumps(dict(cookie))


# --------------------------------------------------------------------------- races


@dataclass
class Outcome:
    status: int
    body: str
    location: str = ""


def fire_together(calls: list[Callable[[], requests.Response]]) -> list[Outcome]:
    """Run every call in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[Outcome | None] = [None] * len(calls)

    def run(i):
        barrier.wait()
        try:
            r = calls[i]()
            results[i] = Outcome(r.status_code, r.text, r.headers.get("Location", ""))
        except requests.RequestException as error:
            results[i] = Outcome(0, repr(error))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    return [r or Outcome(0, "thread did not finish") for r in results]


def error_messages(html: str) -> list[str]:
    """The messages of the GOV.UK error summary on a page."""
    block = re.search(r'govuk-error-summary__list.*?</ul>', html, re.S)
    if not block:
        return []
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r"<li>(.*?)</li>", block.group(0), re.S)]


def sql_count(database_url: str, table: str) -> int:
    return scalar(database_url, text(f'SELECT COUNT(*) FROM "{table}"'))  # noqa: S608 - table names are ours


class _MarkupCheck(HTMLParser):
    """Finds markup that only an injection (or a CSP breach) would put on a page."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name.lower(): (value or "") for name, value in attrs}
        if tag in ("script", "iframe", "object", "embed", "base") and not (tag == "script" and names.get("src")):
            self.problems.append(f"<{tag}> {str(attrs)[:60]}")
        for name, value in names.items():
            if name.startswith("on") or name == "style" or "xss" in name or name == "srcdoc":
                self.problems.append(f"<{tag} {name}=…>")
            server_image = tag == "img" and name == "src" and value.startswith("data:image/")  # our QR code
            if name in ("href", "src", "action", "formaction") and not server_image and re.match(
                    r"\s*(javascript|vbscript|data):", value, re.I):
                self.problems.append(f"<{tag} {name}={value[:40]!r}>")
        if "xss" in tag:
            self.problems.append(f"<{tag}>")


def unsafe_markup(html: str) -> list[str]:
    """Inline scripts, event handlers, style attributes, script URLs, injected tags (parsed, so
    escaped text inside attribute values is not mistaken for markup)."""
    check = _MarkupCheck()
    check.feed(html)
    return check.problems


# --------------------------------------------------------------------------- voting


def open_round(database_url: str, world: World, *, ideas: int, title: str = "Spring round") -> tuple[int, list[int]]:
    """Fund team A, have the resident propose ``ideas`` ideas, the enabler find them feasible
    and open an approval round (open now, for a week) through the services: (round id, idea ids)."""
    import datetime as dt

    from community.db import utcnow
    from community.models import Person, Team
    from ledger import services as ledger
    from votes import services as votes

    engine = make_engine(database_url)
    try:
        with open_session(engine, write=True) as s:
            team = s.get(Team, world.team_a_id)
            enabler = world.actors["enabler"].person_id
            proposer = s.get(Person, world.actors["resident"].person_id)
            ledger.allocate(gl_code="R1000", session=s, team=team, amount_pence=ideas * 1_000 + 10_000,
                            actor_id=world.actors["finance"].person_id, effective_date=today(),
                            idempotency_key=f"round-fund-{title}")
            ids = []
            for i in range(ideas):
                idea = votes.propose_idea(session=s, team=team, proposer=proposer, title=f"Idea {i + 1}: planters",
                                          description=f"Planters on street {i + 1}.", estimated_cost_pence=1_000)
                votes.review_idea(session=s, team=team, idea_id=idea.id, reviewer_id=enabler,
                                  decision="feasible", team_cost_pence=1_000)
                ids.append(idea.id)
            now = utcnow()
            rnd = votes.open_round(session=s, team=team, actor_id=enabler, title=title,
                                   budget_pence=ideas * 1_000, opens_at=now - dt.timedelta(minutes=5),
                                   closes_at=now + dt.timedelta(days=7), idea_ids=ids, ballot_type="approval",
                                   rule="greedy", idempotency_key=f"round-open-{title}")
            s.commit()
            return rnd.id, ids
    finally:
        engine.dispose()


def ballots_of(database_url: str, round_id: int) -> list[tuple[str, str]]:
    """(voter key, choices) of every ballot in a round."""
    from votes.models import Ballot

    with open_session(engine_for(database_url), write=False) as s:
        return [(k, c) for k, c in s.execute(select(Ballot.voter_key, Ballot.choices)
                                             .where(Ballot.round_id == round_id))]


def minted_residents(base_url: str, database_url: str, world: World, count: int) -> list[Browser]:
    """``count`` new residents of team A's place, each signed in (a session row and a signed
    cookie, as :func:`minted_browser` makes) with a CSRF token ready: made in bulk, for load."""
    from flask import session as cookie
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from community import services
    from community.auth import CurrentUser
    from community.db import get_session
    from community.models import Person, Team

    app = _app_for(database_url)
    made = []
    with app.test_request_context("/", method="POST"):
        s = get_session()
        place_id = s.get(Team, world.team_a_id).place_id
        batch = uuid.uuid4().hex[:8]
        people = [Person(email=f"voter-{batch}-{i}@example.org", name=f"Voter {i}", postcode="NG20 8AA",
                         place_id=place_id, password_hash="!") for i in range(count)]
        s.add_all(people)
        s.flush()
        for person in people:
            token = services.start_session(s, person=person, second_factor=False)
            made.append((person.id, token))
        s.commit()
    browsers = []
    for person_id, token in made:
        with app.test_request_context("/", method="POST"):
            cookie.permanent = True
            person = SimpleNamespace(id=person_id, is_active=True)  # the cookie needs only the token
            login_user(CurrentUser(person, SimpleNamespace(second_factor=False), token, {}), fresh=True)
            csrf = generate_csrf()
            value = app.session_interface.get_signing_serializer(app).dumps(dict(cookie))
        browser = Browser(base_url)
        browser.http.cookies.set(COOKIE, value, domain="127.0.0.1", path="/")
        browser.token = csrf
        browser.person_id = person_id
        browsers.append(browser)
    return browsers
