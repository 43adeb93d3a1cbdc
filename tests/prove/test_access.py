"""The access-control matrix over gunicorn (security.md C1, C2): every route in the URL map ×
every role → the status its declared permission decorator implies.

Nothing here lists routes: they come from ``app.url_map`` and the expectation from the
view's ``permission`` attribute (set by the decorators in community/auth.py). A route added
later is covered as soon as it merges; a route with no declared permission fails.

URL arguments are built by ``ARG_FACTORIES`` (name → function(served, "own" | "other")). A
domain that adds routes with object ids (``<int:request_id>``, ``<int:idea_id>`` …) should
add a factory here that creates the object in team A ("own") or team B ("other"); the matrix
then also proves that team A's member gets 404 for team B's object. Unknown arguments get a
placeholder, and for those an allowed role may see 404 (there is no such object).
"""

import datetime as dt
import re
from collections.abc import Callable

import pytest

from community.auth import PERMISSIONS
from tests.conftest import PROD_TOTP_KEYS
from tests.prove.conftest import Served
from tests.prove.harness import ROLES, _app_for
from tests.support.clock import today

SIGN_IN, FORBIDDEN, NOT_FOUND, ALLOWED, SECOND_FACTOR = "sign-in", "403", "404", "allowed", "2fa"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
STAFF = ("member", "other_member", "enabler", "finance", "admin")


def expected(permission: str, role: str) -> str:
    """The policy table: declared permission × role → outcome (the decorators' contract)."""
    if permission == "public":
        return ALLOWED
    if permission == "development":  # the server runs in testing mode: the pages are admins' only
        permission = "admin"
    if role == "anonymous":
        return SIGN_IN
    if permission == "signed_in":
        return ALLOWED
    if role == "resident":
        return FORBIDDEN
    if permission == "staff":
        return ALLOWED
    if permission == "team":  # the "own" team is team A: its member and enabler
        return ALLOWED if role in ("member", "enabler") else NOT_FOUND
    if permission == "finance":
        return ALLOWED if role == "finance" else FORBIDDEN
    if permission == "admin":
        return ALLOWED if role == "admin" else FORBIDDEN
    raise AssertionError(f"no expectation for permission {permission!r}")


def _last_month() -> str:
    first = today().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def _team_objects(served: Served, which: str) -> dict[str, int]:
    """Real objects of each domain in team A ("own") or team B ("other"), made once per server
    through the services: a paid spend request with a receipt, a feasible idea on an open
    round, a money pledge and a community pledge."""
    if which in served.world.objects:
        return served.world.objects[which]
    from community.db import make_engine, open_session, utcnow
    from community.models import Person, Team
    from demo.spend import tiny_png
    from ledger import services as ledger
    from pledges import services as pledges
    from spend import receipts
    from spend import services as spend
    from votes import services as votes

    world = served.world
    team_id = world.team_a_id if which == "own" else world.team_b_id
    requester, approver = ("member", "enabler") if which == "own" else ("other_member", "enabler")
    engine = make_engine(served.database_url)
    try:
        with open_session(engine, write=True) as s:
            team = s.get(Team, team_id)
            person = {role: s.get(Person, a.person_id) for role, a in world.actors.items()}
            finance = world.actors["finance"].person_id
            ledger.allocate(gl_code="R1000", session=s, team=team, amount_pence=100_000, actor_id=finance,
                            effective_date=today(), idempotency_key=f"access-fund-{which}")
            if which == "other":  # team B needs an approver of its own
                from community import services
                from community.models import Membership

                person["beta_enabler"] = services.sign_up_resident(
                    s, name="Beta Enabler", email="beta-enabler@example.org", password="correct horse battery",
                    postcode="NG20 8AA")
                s.add(Membership(team_id=team.id, person_id=person["beta_enabler"].id, role="enabler"))
                s.flush()
                approver = "beta_enabler"
            request = spend.request_spend(
                session=s, team=team, requester=person[requester], amount_pence=1_500, payee="Village Hall",
                payee_is_individual=False, purpose="Tea urn", category=spend.CATEGORIES[0][0])
            spend.approve(session=s, team=team, request_id=request.id, approver=person[approver],
                          auth_session=None, idempotency_key=f"access-approve-{which}")
            ref, kind = receipts.store_receipt(served.workdir / "receipts", tiny_png())
            spend.record_payment(session=s, team=team, request_id=request.id, actor=person[approver],
                                 actual_pence=1_500, paid_on=today(), method=spend.METHODS[0][0],
                                 receipt_ref=ref, receipt_content_type=kind,
                                 idempotency_key=f"access-pay-{which}")
            waiting = spend.request_spend(  # approved, not yet paid: its pay form (with the receipt) is served
                session=s, team=team, requester=person[requester], amount_pence=2_500, payee="Hardware shop",
                payee_is_individual=False, purpose="Litter grabbers", category=spend.CATEGORIES[0][0])
            spend.approve(session=s, team=team, request_id=waiting.id, approver=person[approver],
                          auth_session=None, idempotency_key=f"access-approve-waiting-{which}")
            from community import images

            idea = votes.propose_idea(session=s, team=team, proposer=person["resident"], title=f"Benches {which}",
                                      description="Two benches by the pond.", estimated_cost_pence=40_000,
                                      photo=images.store_photo(served.workdir / "uploads" / "photos", tiny_png()))
            votes.review_idea(session=s, team=team, idea_id=idea.id, reviewer_id=person[approver].id,
                              decision="feasible", team_cost_pence=40_000)
            now = utcnow()
            rnd = votes.open_round(session=s, team=team, actor_id=person[approver].id, title=f"Spring {which}",
                                   budget_pence=50_000, opens_at=now - dt.timedelta(hours=1),
                                   closes_at=now + dt.timedelta(days=7), idea_ids=[idea.id],
                                   ballot_type="approval", rule="greedy", idempotency_key=f"access-round-{which}")
            draft = votes.propose_idea(session=s, team=team, proposer=person["resident"], title=f"Draft {which}",
                                       description="Still being written.", estimated_cost_pence=1_000)
            from tests.prove.harness import SECRET

            votes.cast_ballot(session=s, rnd_id=rnd.id, person=person["resident"], secret=SECRET,
                              idea_ids=[idea.id])
            pledge = pledges.make_pledge(session=s, team=team, made_by=person["resident"], kind="money",
                                         description="Towards the benches", today=today(),
                                         amount_pence=5_000)
            community = pledges.create_community_pledge(session=s, team=team, author=person["resident"],
                                                        title="Litter pick", promise="I will pick litter monthly.")
            funded, step = _funded_idea_with_a_step(served, s, team, person, approver, which)
            made = {"request_id": request.id, "approved_request_id": waiting.id, "idea_id": idea.id, "round_id": rnd.id,
                    "pledge_id": pledge.id, "cp_id": community.id, "draft_idea_id": draft.id,
                    "funded_idea_id": funded.id, "step_id": step.id}
            s.commit()
    finally:
        engine.dispose()
    served.world.objects[which] = made
    return made




def _funded_idea_with_a_step(served: Served, s, team, person: dict, approver: str, which: str):
    """An idea funded by a closed round, with a delivery step that has a photo (issue 17)."""
    from community import images
    from community.db import utcnow
    from demo.spend import tiny_png
    from tests.prove.harness import SECRET
    from votes import delivery
    from votes import services as votes

    idea = votes.propose_idea(session=s, team=team, proposer=person["resident"], title=f"Planters {which}",
                              description="Planters on Main Street.", estimated_cost_pence=20_000)
    votes.review_idea(session=s, team=team, idea_id=idea.id, reviewer_id=person[approver].id,
                      decision="feasible", team_cost_pence=20_000)
    now = utcnow()
    rnd = votes.open_round(session=s, team=team, actor_id=person[approver].id, title=f"Autumn {which}",
                           budget_pence=30_000, opens_at=now - dt.timedelta(hours=1),
                           closes_at=now + dt.timedelta(days=7), idea_ids=[idea.id], ballot_type="approval",
                           rule="greedy", idempotency_key=f"access-round-funded-{which}")
    votes.cast_ballot(session=s, rnd_id=rnd.id, person=person["resident"], secret=SECRET, idea_ids=[idea.id])
    votes.close_round(session=s, round_id=rnd.id, actor_id=person[approver].id, force=True)
    photo = images.store_photo(served.workdir / "uploads" / "photos", tiny_png())
    step = delivery.add_milestone(session=s, team=team, idea_id=idea.id, actor_id=person[approver].id,
                                  title="Order the planters", planned_on=today(), photo=photo)
    return idea, step


def _object(name: str) -> Callable[[Served, str], object]:
    return lambda s, which: _team_objects(s, which)[name]


ARG_FACTORIES: dict[str, Callable[[Served, str], object]] = {
    "slug": lambda s, which: s.world.team_a if which == "own" else s.world.team_b,
    "person_id": lambda s, which: s.world.actors["resident"].person_id,
    "token": lambda s, which: "no-such-invitation-token",
    "month": lambda s, which: _last_month(),
    "fmt": lambda s, which: "csv",
    "filename": lambda s, which: "css/app.css",
    "kind": lambda s, which: "money",
    "decision": lambda s, which: "approve",  # <any(approve, refuse):decision>: a value the route accepts
    **{name: _object(name) for name in ("request_id", "idea_id", "round_id", "pledge_id", "cp_id",
                                        "draft_idea_id", "approved_request_id", "funded_idea_id", "step_id")},
}
# Routes that need a different object than their argument's default: endpoint → {arg: factory}.
ENDPOINT_ARGS: dict[str, dict[str, str]] = {
    "votes.edit_idea": {"idea_id": "draft_idea_id"},  # only a proposed idea can be changed
    # Delivery steps (issue 17) are for funded ideas only.
    **{f"votes.{name}": {"idea_id": "funded_idea_id"}
       for name in ("new_step", "edit_step", "complete_step", "mark_done", "step_photo")},
    "spend.pay": {"request_id": "approved_request_id"},  # a paid request has no pay form to fuzz
    "ledger.decide_reversal": {"request_id": "reversal_request_id"},  # no factory: an allowed 404 is fine
}

# Views that narrow their declared permission further, by design (the decorator is the floor):
# endpoint → role → outcome, where it differs from ``expected``.
REFINED: dict[str, dict[str, str]] = {
    # Only the team's enabler sets approval limits; a member sees 403 (they know the page exists).
    "spend.limits": {"member": FORBIDDEN},
    # Changes of limits above the defaults are decided by finance or an admin, not by the team.
    "spend.limit_changes": {r: FORBIDDEN for r in ("member", "other_member", "enabler")},
    "spend.decide_limits": {r: FORBIDDEN for r in ("member", "other_member", "enabler")},
    # A receipt is for the team's members and finance with a second factor; for anyone else it
    # does not exist (404), so a receipt's existence is not revealed.
    "spend.receipt": {"resident": NOT_FOUND, "other_member": NOT_FOUND, "admin": NOT_FOUND},
    # Only the proposer changes their idea (the resident proposed it); for others it is 404.
    "votes.edit_idea": {r: NOT_FOUND for r in ("member", "other_member", "enabler", "finance", "admin")},
    # A ballot receipt is the voter's own (the resident voted); without a ballot there is none.
    "votes.receipt": {r: NOT_FOUND for r in ("member", "other_member", "enabler", "finance", "admin")},
    # The pledger (the resident) or the team withdraws a pledge; anyone else gets 404.
    "pledges.withdraw": {r: NOT_FOUND for r in ("other_member", "finance", "admin")},
}


def expected_for(endpoint: str, permission: str, role: str) -> str:
    return REFINED.get(endpoint, {}).get(role, expected(permission, role))
ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def build(served: Served, rule, which: str = "own", objects: str | None = None) -> tuple[str, bool]:
    """The URL of a rule with arguments filled in; and whether every argument was known.
    ``objects`` takes object ids from the other team than the slug (a crossed URL)."""
    known = True

    def fill(match):
        nonlocal known
        converter, arguments, name = match.group(1), match.group(2), match.group(3)
        name = ENDPOINT_ARGS.get(rule.endpoint, {}).get(name, name)
        if converter == "any":  # the first of its choices: any other value is no route at all
            return arguments.split(",")[0].strip()
        if name in ARG_FACTORIES:
            side = objects if objects and name != "slug" else which
            return str(ARG_FACTORIES[name](served, side))
        known = False
        return "999999" if converter in ("int", "float") else "unknown"

    return ARG.sub(fill, rule.rule), known


def rules(served: Served):
    app = _app_for(served.database_url)
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"], app


def undeclared(app) -> list[str]:
    """Routes whose view declares no permission (or one the policy table does not know)."""
    return [r.rule for r in app.url_map.iter_rules()
            if r.endpoint != "static" and getattr(app.view_functions[r.endpoint], "permission", None)
            not in PERMISSIONS]


def outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code in (301, 302, 303) and re.search(r"/sign-in(\?|$)", location):
        return SIGN_IN
    if response.status_code in (301, 302, 303) and "/two-factor/setup" in location:
        return SECOND_FACTOR
    if response.status_code == 403:
        return FORBIDDEN
    if response.status_code == 404:
        return NOT_FOUND
    return ALLOWED


def test_every_route_declares_a_permission(served):
    _, app = rules(served)
    assert undeclared(app) == []


def test_a_route_without_a_permission_is_caught(served):
    """The checker itself can fail: an undeclared route added to an app is reported."""
    from wsgi import create_app

    app = create_app({"ENV_NAME": "testing", "SECRET_KEY": "k" * 40, "DATABASE_URL": served.database_url})
    app.add_url_rule("/sneaky", "sneaky", lambda: "open to all")
    assert undeclared(app) == ["/sneaky"]


def test_matrix_every_route_every_role(served):
    all_rules, app = rules(served)
    browsers = {role: served.browser(role) for role in ROLES}
    problems = []
    checked = 0
    for rule in all_rules:
        permission = getattr(app.view_functions[rule.endpoint], "permission", None)
        url, known = build(served, rule)
        method = "GET" if "GET" in rule.methods else sorted(rule.methods & STATE_CHANGING)[0]
        for role in ROLES:
            if method == "GET":
                response = browsers[role].get(url)
            else:  # a fresh session each time: the POST may sign out or change the session
                fresh = served.browser(role)
                fresh.csrf("/sign-in")
                response = fresh.post(url, {})
            checked += 1
            got, want = outcome(response), expected_for(rule.endpoint, permission, role)
            if response.status_code >= 500:
                problems.append(f"{method} {url} as {role}: {response.status_code}")
            elif permission == "public" and got != FORBIDDEN:
                continue  # a public page may still send you on (e.g. /sign-in/code with nothing pending)
            elif got != want and not (want == ALLOWED and got == NOT_FOUND and not known):
                problems.append(f"{method} {url} [{permission}] as {role}: got {got} "
                                f"({response.status_code}), want {want}")
    assert checked >= len(all_rules) * len(ROLES)
    assert problems == [], "\n".join(problems)


def test_other_teams_objects_are_404(served):
    """Team A's member and enabler asking for team B's team pages get 404, never 403; and for
    every page with an object id (public ones included), team A's URL with team B's object is
    404 for everyone it is open to (an id never leaks across teams)."""
    all_rules, app = rules(served)
    problems, checked, crossed_checked = [], 0, 0
    for rule in all_rules:
        permission = getattr(app.view_functions[rule.endpoint], "permission", None)
        if permission == "development" or "GET" not in rule.methods:
            continue
        url, _ = build(served, rule, "other")
        own_url, _ = build(served, rule, "own")
        if url == own_url:  # no team-scoped argument in this route
            continue
        crossed, _ = build(served, rule, "own", objects="other")  # team A's URL, team B's object
        for role in ROLES:
            if expected_for(rule.endpoint, permission, role) != ALLOWED:
                continue
            targets = [crossed] if crossed != own_url else []
            if permission == "team":  # residents may use any team of their place: staff pages may not
                targets.append(url)
            for target in targets:
                response = served.browser(role).get(target)
                checked += 1
                crossed_checked += target == crossed
                if response.status_code != 404:
                    problems.append(f"GET {target} [{permission}] as {role}: {response.status_code}")
    assert checked > 0 and crossed_checked > 0
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("role", STAFF)
def test_staff_pages_need_the_second_factor(served, role):
    """Signed in with a password only: every staff, team, finance and admin page sends the
    person to set up or use their second factor; none of them is served."""
    all_rules, app = rules(served)
    browser = served.browser(role, second_factor=False)
    problems = []
    for rule in all_rules:
        permission = getattr(app.view_functions[rule.endpoint], "permission", None)
        if permission not in ("staff", "team", "finance", "admin", "development") or "GET" not in rule.methods:
            continue
        url, _ = build(served, rule)
        response = browser.get(url)
        if outcome(response) not in (SECOND_FACTOR, FORBIDDEN, NOT_FOUND) or response.status_code == 200:
            problems.append(f"GET {url} [{permission}] as {role} without 2FA: {response.status_code}")
    assert problems == [], "\n".join(problems)


def test_development_pages_are_404_in_production(served):
    from wsgi import create_app

    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "p" * 40, "TOTP_KEYS": PROD_TOTP_KEYS, "DATABASE_URL": served.database_url})
    client = app.test_client()
    dev = [r for r in app.url_map.iter_rules()
           if getattr(app.view_functions[r.endpoint], "permission", None) == "development"]
    for rule in dev:
        url, _ = build(served, rule)
        assert client.get(url, base_url="https://localhost").status_code == 404, url


@pytest.fixture
def served(shared_served):
    """This module only reads, or changes its own sessions: the shared server will do."""
    return shared_served
