"""House rules checked on the source (issue 15): every service takes ``session`` keyword-only."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# TODO(issue 15): today's services that take ``session`` positionally; each becomes keyword-only
# (``*, session``) and leaves this list (community/ and votes/ are being edited by other changes now).
KNOWN_POSITIONAL_SESSION = {
    "community/services.py": {
        "accept_invitation",
        "audit",
        "authenticate",
        "change_password",
        "change_postcode",
        "confirm_totp_enrolment",
        "create_admin",
        "create_place",
        "create_team",
        "count_people",
        "demo_code",
        "end_all_sessions",
        "end_session",
        "get_invitation",
        "get_team",
        "grant_role",
        "invite_staff",
        "is_staff",
        "list_people",
        "list_team_members",
        "list_teams",
        "needs_second_factor",
        "place_for_postcode",
        "revoke_role",
        "sign_up_resident",
        "start_session",
        "verify_totp",
    },
    "pledges/services.py": {
        "community_pledges",
        "delivered",
        "events",
        "fulfilments",
        "given_minutes",
        "has_lapse_due",
        "hourly_rate_pence",
        "journal_entry",
        "memorandum",
        "named_signers",
        "received_pence",
        "signature_count",
        "standing_signature",
        "team_pledge",
    },
    "votes/services.py": {
        "spend_for_idea",
        "system_actor_id",
    },
}


def positional_session_services() -> dict[str, set[str]]:
    """Per */services.py, the public functions whose ``session`` can be passed positionally."""
    found: dict[str, set[str]] = {}
    for path in sorted(ROOT.glob("*/services.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name.startswith("_"):
                continue
            positional = [a.arg for a in node.args.posonlyargs + node.args.args]
            if "session" in positional:
                found.setdefault(path.relative_to(ROOT).as_posix(), set()).add(node.name)
    return found


def test_services_are_found():
    modules = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("*/services.py")}
    assert {
        "community/services.py",
        "ledger/services.py",
        "votes/services.py",
        "pledges/services.py",
    } <= modules


def test_every_service_takes_session_keyword_only():
    found = positional_session_services()
    new = {m: sorted(names - KNOWN_POSITIONAL_SESSION.get(m, set())) for m, names in found.items()}
    new = {m: names for m, names in new.items() if names}
    assert not new, f"services taking session positionally (make it keyword-only: `*, session`): {new}"


def test_the_allow_list_only_names_todays_offenders():
    found = positional_session_services()
    stale = {m: sorted(names - found.get(m, set())) for m, names in KNOWN_POSITIONAL_SESSION.items()}
    stale = {m: names for m, names in stale.items() if names}
    assert not stale, f"fixed (or gone): remove them from KNOWN_POSITIONAL_SESSION: {stale}"
