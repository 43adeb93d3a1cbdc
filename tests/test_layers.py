"""House rules checked on the source (issue 15): every service takes ``session`` keyword-only."""

from __future__ import annotations

import ast
import re
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
        "system_actor_id",
    },
}


def positional_session_services() -> dict[str, set[str]]:
    """Per */services.py and the ledger's core modules, the public functions whose ``session``
    can be passed positionally."""
    found: dict[str, set[str]] = {}
    core = [ROOT / "ledger" / f"{name}.py" for name in ("accounts", "journal", "periods", "queries", "verify")]
    for path in sorted(ROOT.glob("*/services.py")) + core:
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


# --------------------------------------------------------------------------- view length

VIEW_LINES = 15  # parse → load or 404 → one service → commit → redirect
ROUTE_DECORATORS = {"get", "post", "route", "put", "delete", "patch"}
# Views allowed over 15 lines, each with its ceiling (body lines). None today (issue 15): a view
# that grows moves its work into a service or a helper rather than joining this list.
LONG_VIEWS: dict[str, int] = {}


def view_lengths() -> dict[str, int]:
    """``module:function`` → body lines (docstring left out) of every routed view."""
    lengths = {}
    for path in sorted([*ROOT.glob("*/views.py"), *ROOT.glob("*/*_views.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            routed = any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
                         and d.func.attr in ROUTE_DECORATORS for d in node.decorator_list)
            if not routed:
                continue
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            if body:
                lengths[f"{path.relative_to(ROOT).as_posix()}:{node.name}"] = body[-1].end_lineno - body[0].lineno + 1
    return lengths


def test_views_are_found():
    lengths = view_lengths()
    assert "community/views.py:sign_in" in lengths and "statements/views.py:finance_home" in lengths
    assert len(lengths) > 60


def test_no_view_grows_past_its_ceiling():
    """A view is at most 15 lines; today's longer ones (TODO(issue 15)) may not grow, and leave
    the list when they are cut down."""
    lengths = view_lengths()
    too_long = {name: n for name, n in lengths.items() if n > max(VIEW_LINES, LONG_VIEWS.get(name, 0))}
    assert not too_long, f"views over {VIEW_LINES} lines (move the work into a service): {too_long}"


def test_the_long_view_list_only_names_todays_long_views():
    lengths = view_lengths()
    stale = {name: ceiling for name, ceiling in LONG_VIEWS.items() if lengths.get(name, 0) < ceiling}
    assert not stale, f"shorter now (or gone): lower or remove their LONG_VIEWS ceilings: {stale}"


# --------------------------------------------------------------------------- configuration

CONFIG_READ = re.compile(r"""config(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""")


def test_every_configuration_key_the_code_reads_is_declared_with_its_default():
    """One place says what can be configured (wsgi.configure, each key with a comment): a key read
    with ``config[...]`` or ``config.get(...)`` anywhere must be declared there (or be Flask's)."""
    from wsgi import create_app

    app = create_app({"ENV_NAME": "testing", "SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite://"})
    read = {}
    for path in sorted(ROOT.glob("*/*.py")) + [ROOT / "wsgi.py"]:
        if path.parts[-2] in {"tests", "bench", "migrations", "node_modules", ".venv"}:
            continue
        for key in CONFIG_READ.findall(path.read_text(encoding="utf-8")):
            read.setdefault(key, path.relative_to(ROOT).as_posix())
    undeclared = {key: where for key, where in read.items() if key not in app.config}
    assert undeclared == {}, f"declare these in wsgi.configure with a default and a comment: {undeclared}"


def test_nothing_edits_sys_path_to_import_the_project():
    """The packages are declared in pyproject.toml and installed (editable) by the set-up, so
    tests, benchmarks and scripts import them as any user would (benchmarks run as
    ``python -m bench.load`` from the checkout); a ``sys.path`` edit would hide a package that
    is missing from the declaration."""
    edits = [path.relative_to(ROOT).as_posix()
             for folder in ("tests", "bench", "scripts", "demo", "ops")
             for path in sorted((ROOT / folder).rglob("*.py"))
             if re.search(r"sys\.path\.(insert|append)\(", path.read_text(encoding="utf-8"))
             and path.name != "test_layers.py"]
    assert edits == []
