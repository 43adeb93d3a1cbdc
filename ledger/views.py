"""HTTP views of the ledger domain: a team's public ledger and the finance pages.

Each finance view follows the community pattern: parse the form → load or 404 → call ONE
service → commit → flash → redirect; on a ledger DomainError roll back and show the message
beside its field (or above the form). Nothing is written on any refusal.
"""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from community.auth import finance_only, public, team_or_404
from community.cache import public_page
from community.db import get_session
from community.formatting import gbp
from community.models import Person, Team
from community.numbers import query_int
from ledger import reversals, services, signals
from ledger.errors import (
    DomainError,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    NotFound,
    PeriodClosed,
)
from ledger.forms import (
    AllocateForm,
    CloseMonthForm,
    DecideReversalForm,
    ReverseForm,
    VirementForm,
    parse_date,
    parse_month,
)
from ledger.models import LedgerAccount
from ledger.money import parse_pence

bp = Blueprint("ledger", __name__)
PER_PAGE = 50


def _show_error(form, error: DomainError, field_for: dict[type, str]) -> None:
    """Roll back and show a ledger error beside the field it concerns (or above the form)."""
    get_session().rollback()
    name = next((f for kind, f in field_for.items() if isinstance(error, kind)), None)
    field = getattr(form, name, None) if name else None
    message = str(error)
    if isinstance(error, IdempotencyConflict):
        message = ("This form was already submitted with different details, so nothing more was saved. "
                   "Check the ledger, then start a fresh form if you still need to.")
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)


def _teams(session) -> list[Team]:
    return list(session.execute(select(Team).order_by(Team.name)).scalars())


def _team_or_404(session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        abort(404)
    return team


def _sees_detail(team: Team) -> bool:
    """Team members of this team and finance (signed in with their second factor)."""
    if not current_user.is_authenticated or not current_user.has_second_factor:
        return False
    return bool(current_user.person.is_finance or current_user.role_in(team.id))


def _has_budget(session, team: Team) -> bool:
    """Whether the team has a budget account yet (a GET must not create one)."""
    code = f"team:{team.id}:budget"
    return session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code)).first() is not None


# --------------------------------------------------------------------------- public


@bp.get("/teams/<slug>/ledger")
@public
@public_page
def team_ledger(slug: str):
    session = get_session()
    team = team_or_404(session, slug)
    page_number = query_int(request.args, "page", 1)
    if _has_budget(session, team):
        page = services.list_entries(session=session, team=team, page=page_number, per_page=PER_PAGE)
    else:
        page = services.LedgerPage(rows=[], page=page_number, per_page=PER_PAGE, has_next=False,
                                   balance_pence=0, available_pence=0)
    if page_number > 1 and not page.rows:
        abort(404)
    pagination = None
    if page.page > 1 or page.has_next:
        pagination = {"items": [{"number": page.page, "current": True,
                                 "href": url_for("ledger.team_ledger", slug=slug, page=page.page)}]}
        if page.page > 1:
            pagination["previous"] = {"href": url_for("ledger.team_ledger", slug=slug, page=page.page - 1)}
        if page.has_next:
            pagination["next"] = {"href": url_for("ledger.team_ledger", slug=slug, page=page.page + 1)}
    detail = _sees_detail(team)
    is_finance = detail and current_user.person.is_finance
    funds = services.list_fund_movements(session=session, team=team)
    names = {}
    if detail:  # who asked and who approved each spend: one query for the page
        rows = [*page.rows, *(row for fund in funds for row in fund.page.rows)]
        ids = {i for row in rows for i in (row.proposer_id, row.approver_id) if i}
        if ids:
            names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())
    return render_template("ledger/team_ledger.html", team=team, page=page, pagination=pagination,
                           detail=detail, is_finance=is_finance, funds=funds, names=names)


# --------------------------------------------------------------------------- finance


@bp.route("/finance/allocate", methods=["GET", "POST"])
@finance_only
def allocate():
    session = get_session()
    teams = _teams(session)
    form = AllocateForm()
    form.team_id.choices = [(t.id, t.name) for t in teams]
    if request.method == "GET" and request.args.get("team"):
        chosen = next((t for t in teams if t.slug == request.args["team"]), None)
        if chosen is not None:
            form.team_id.data = chosen.id
    if form.validate_on_submit():
        team = _team_or_404(session, form.team_id.data)
        try:
            amount = parse_pence(form.amount.data)
            entry = services.allocate(
                session=session, team=team, amount_pence=amount,
                actor_id=current_user.id, effective_date=parse_date(form.effective_date.data),
                idempotency_key=form.idempotency_key.data or "",
                description=form.description.data.strip(),
                cost_centre=(form.cost_centre.data or "").strip() or None,
                gl_code=(form.gl_code.data or "").strip() or None)
            session.commit()
        except DomainError as error:
            _show_error(form, error, {InvalidAmount: "amount", PeriodClosed: "effective_date"})
        else:
            flash(f"Allocated {gbp(amount)} to {team.name} (entry {services.reference(entry.id)}).", "success")
            return redirect(url_for("ledger.team_ledger", slug=team.slug))
    form.ensure_key()
    form.ensure_date()
    return render_template("ledger/allocate.html", form=form, title="Allocate money to a team")


@bp.route("/finance/virement", methods=["GET", "POST"])
@finance_only
def virement():
    session = get_session()
    teams = _teams(session)
    form = VirementForm()
    form.from_team_id.choices = [(t.id, t.name) for t in teams]
    form.to_team_id.choices = [(t.id, t.name) for t in teams]
    if form.validate_on_submit():
        from_team = _team_or_404(session, form.from_team_id.data)
        to_team = _team_or_404(session, form.to_team_id.data)
        try:
            amount = parse_pence(form.amount.data)
            entry = services.transfer(
                session=session, from_team=from_team, to_team=to_team,
                amount_pence=amount, reason=form.reason.data,
                actor_id=current_user.id, effective_date=parse_date(form.effective_date.data),
                idempotency_key=form.idempotency_key.data or "")
            session.commit()
        except DomainError as error:
            if str(error).startswith("Choose two different teams"):
                _show_error(form, error, {DomainError: "to_team_id"})
            else:
                _show_error(form, error, {InvalidAmount: "amount", InsufficientFunds: "amount",
                                          PeriodClosed: "effective_date"})
        else:
            flash(f"Moved {gbp(amount)} from {from_team.name} to {to_team.name} "
                  f"(entry {services.reference(entry.id)}).", "success")
            return redirect(url_for("statements.finance_home"))
    form.ensure_key()
    form.ensure_date()
    return render_template("ledger/virement.html", form=form, title="Move money between teams")


@bp.route("/finance/reverse", methods=["GET", "POST"])
@finance_only
def reverse():
    """Name the entry (``?entry=L000341``), see what it is, then confirm: nothing is reversed
    before the page has shown the entry's date, team, description and amount."""
    session = get_session()
    form = ReverseForm()
    wanted = (form.entry_id.data if request.method == "POST" else request.args.get("entry", "")) or ""
    found, lookup_error = _reversal_preview(session, wanted)
    if found is not None and form.validate_on_submit():
        try:
            outcome = reversals.request_reversal(
                session=session, entry_id=found.entry.id, reason=form.reason.data, actor_id=current_user.id,
                effective_date=parse_date(form.effective_date.data), idempotency_key=form.idempotency_key.data or "",
                threshold_pence=_second_approval_above())
            session.commit()
        except DomainError as error:
            _show_error(form, error, {PeriodClosed: "effective_date", InvalidRequest: "reason"})
        else:
            return _after_reversal(session, found, outcome)
    form.entry_id.data = found.reference if found else ""
    form.ensure_key()
    form.ensure_date()
    return render_template("ledger/reverse.html", form=form, found=found, lookup_error=lookup_error,
                           wanted=wanted, threshold=_second_approval_above(), title="Reverse an entry")


def _second_approval_above() -> int:
    return int(current_app.config["REVERSAL_SECOND_APPROVAL_ABOVE_PENCE"])


def _reversal_preview(session, wanted: str):
    if not wanted.strip():
        return None, None
    try:
        return reversals.preview(session=session, entry_id=reversals.parse_reference(wanted),
                                 threshold_pence=_second_approval_above()), None
    except DomainError as error:
        return None, str(error)


def _after_reversal(session, found, outcome):
    if outcome.request is not None:
        flash(f"The reversal of {found.reference} ({gbp(found.amount_pence)}) is waiting for a second "
              "finance person to approve it.", "success")
        return redirect(url_for("ledger.pending_reversals"))
    flash(f"{found.reference} was reversed by {services.reference(outcome.reversal.id)}.", "success")
    team = session.get(Team, outcome.reversal.team_id) if outcome.reversal.team_id else None
    return redirect(url_for("ledger.team_ledger", slug=team.slug) if team else url_for("statements.finance_home"))


@bp.get("/finance/reversals")
@finance_only
def pending_reversals():
    return render_template("ledger/reversals.html", waiting=reversals.list_pending(session=get_session()),
                           form=DecideReversalForm())


@bp.post("/finance/reversals/<int:request_id>/<any(approve, refuse):decision>")
@finance_only
def decide_reversal(request_id: int, decision: str):
    if not DecideReversalForm().validate_on_submit():
        abort(400)
    session = get_session()
    try:
        decide = reversals.approve if decision == "approve" else reversals.refuse
        decide(session=session, request_id=request_id, approver_id=current_user.id)
        session.commit()
    except NotFound:
        abort(404)
    except DomainError as error:
        session.rollback()
        flash(str(error), "error")
    else:
        flash("The reversal was made." if decision == "approve" else "The reversal was refused: nothing changed.",
              "success")
    return redirect(url_for("ledger.pending_reversals"))


@bp.route("/finance/close-month", methods=["GET", "POST"])
@finance_only
def close_month():
    session = get_session()
    form = CloseMonthForm()
    if form.validate_on_submit():
        try:
            period = services.close_month(session=session, month=parse_month(form.month.data),
                                          actor_id=current_user.id)
            session.commit()
        except DomainError as error:
            _show_error(form, error, {PeriodClosed: "month"})
        else:
            # The statements (every team's PDF + CSV and the county pack, ~1.6 s a team) are
            # frozen outside this request: by cron, or by a thread once this redirect is sent.
            month = period.month_start
            flash(f"{month:%B %Y} and every month before it are closed. Its statements are being "
                  "prepared: the finance home shows when they are ready.", "success")
            response = redirect(url_for("statements.finance_home"))
            signals.month_closed.send(current_app._get_current_object(), month=month, response=response)
            return response
    return render_template("ledger/close_month.html", form=form, title="Close a month")
