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
from community.formatting import gbp, in_render_language
from community.i18n import _
from community.models import Person, Team
from community.numbers import query_int
from community.web import act, attempt
from ledger import reversals, services, signals
from ledger.codes import shown_category
from ledger.descriptions import description_text
from ledger.errors import (
    DomainError,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    PeriodClosed,
)
from ledger.forms import (
    AllocateForm,
    CloseMonthForm,
    DecideReversalForm,
    ReverseForm,
    VirementForm,
    parse_month,
)
from ledger.money import parse_pence
from ledger.queries import shown_payee

bp = Blueprint("ledger", __name__)
bp.add_app_template_filter(shown_payee, "payee")
bp.add_app_template_filter(shown_category, "category")
bp.add_app_template_filter(in_render_language(description_text), "ledger_description")  # ledger/descriptions.py
PER_PAGE = 50


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


# --------------------------------------------------------------------------- public


@bp.get("/teams/<slug>/ledger")
@public
@public_page
def team_ledger(slug: str):
    session = get_session()
    team = team_or_404(session, slug)
    page = _ledger_page(session, team, query_int(request.args, "page", 1))
    detail = _sees_detail(team)
    funds = services.list_fund_movements(session=session, team=team)
    return render_template("ledger/team_ledger.html", team=team, page=page, pagination=_pagination(slug, page),
                           detail=detail, is_finance=detail and current_user.person.is_finance, funds=funds,
                           names=_names(session, [*page.rows, *(row for f in funds for row in f.page.rows)])
                           if detail else {})


def _ledger_page(session, team: Team, number: int):
    """One page of the team's ledger (empty before its first allocation); 404 past the last page."""
    page = services.budget_page(session=session, team=team, page=number, per_page=PER_PAGE)
    if page is None:  # no budget account yet (a GET must not create one)
        page = services.LedgerPage(rows=[], page=number, per_page=PER_PAGE, has_next=False,
                                   balance_pence=0, available_pence=0)
    if number > 1 and not page.rows:
        abort(404)
    return page


def _pagination(slug: str, page) -> dict | None:
    """GOV.UK pagination's items, previous and next links (None on a single page)."""
    if page.page == 1 and not page.has_next:
        return None
    link = lambda number: url_for("ledger.team_ledger", slug=slug, page=number)  # noqa: E731
    pagination = {"items": [{"number": page.page, "current": True, "href": link(page.page)}]}
    if page.page > 1:
        pagination["previous"] = {"href": link(page.page - 1)}
    if page.has_next:
        pagination["next"] = {"href": link(page.page + 1)}
    return pagination


def _names(session, rows) -> dict[int, str]:
    """Who asked and who approved each spend on the page: one query."""
    ids = {i for row in rows for i in (row.proposer_id, row.approver_id) if i}
    if not ids:
        return {}
    return dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())



# --------------------------------------------------------------------------- finance


@bp.route("/finance/allocate", methods=["GET", "POST"])
@finance_only
def allocate():
    form = AllocateForm()
    teams = _team_choices(form.team_id)
    if request.method == "GET" and request.args.get("team"):
        form.team_id.data = next((t.id for t in teams if t.slug == request.args["team"]), form.team_id.data)
    done = attempt(form, lambda s: _allocate(s, form), field_for=_MONEY_FIELDS)
    if done.ok:
        entry, team, amount = done.value
        flash(_("Allocated %(amount)s to %(team)s (entry %(entry)s).", amount=gbp(amount), team=team.name,
                entry=services.reference(entry.id)), "success")
        return redirect(url_for("ledger.team_ledger", slug=team.slug))
    return _money_page(form, "ledger/allocate.html", _("Allocate money to a team"))


_MONEY_FIELDS = {InvalidAmount: "amount", InsufficientFunds: "amount", PeriodClosed: "effective_date",
                 InvalidRequest: "reason"}


def _team_choices(*fields) -> list[Team]:
    teams = _teams(get_session())
    for field in fields:
        field.choices = [(t.id, t.name) for t in teams]
    return teams


def _money_page(form, template: str, title: str):
    form.ensure_key()
    form.ensure_date()
    return render_template(template, form=form, title=title)


def _allocate(session, form: AllocateForm):
    team, amount = _team_or_404(session, form.team_id.data), parse_pence(form.amount.data)
    entry = services.allocate(
        session=session, team=team, amount_pence=amount,
        actor_id=current_user.id, effective_date=form.effective_date.data,
        idempotency_key=form.idempotency_key.data or "", description=form.description.data.strip(),
        cost_centre=(form.cost_centre.data or "").strip() or None, gl_code=form.gl_code.data or "")
    return entry, team, amount


@bp.route("/finance/virement", methods=["GET", "POST"])
@finance_only
def virement():
    form = VirementForm()
    _team_choices(form.from_team_id, form.to_team_id)
    done = attempt(form, lambda s: _virement(s, form), field_for=_MONEY_FIELDS)
    if done.ok:
        entry, from_team, to_team, amount = done.value
        flash(_("Moved %(amount)s from %(from_team)s to %(to_team)s (entry %(entry)s).", amount=gbp(amount),
                from_team=from_team.name, to_team=to_team.name, entry=services.reference(entry.id)), "success")
        return redirect(url_for("statements.finance_home"))
    return _money_page(form, "ledger/virement.html", _("Move money between teams"))


def _virement(session, form: VirementForm):
    from_team = _team_or_404(session, form.from_team_id.data)
    to_team, amount = _team_or_404(session, form.to_team_id.data), parse_pence(form.amount.data)
    entry = services.transfer(
        session=session, from_team=from_team, to_team=to_team, amount_pence=amount,
        reason=form.reason.data, actor_id=current_user.id, effective_date=form.effective_date.data,
        idempotency_key=form.idempotency_key.data or "")
    return entry, from_team, to_team, amount


@bp.route("/finance/reverse", methods=["GET", "POST"])
@finance_only
def reverse():
    """Name the entry (``?entry=L000341``), see what it is, then confirm: nothing is reversed
    before the page has shown the entry's date, team, description and amount."""
    form = ReverseForm()
    wanted = (form.entry_id.data if request.method == "POST" else request.args.get("entry", "")) or ""
    found, lookup_error = _reversal_preview(get_session(), wanted)
    done = attempt(form, lambda s: _request_reversal(s, found, form), field_for=_MONEY_FIELDS,
                   validate=False) if found is not None and form.validate_on_submit() else None
    if done is not None and done.ok:
        return _after_reversal(get_session(), found, done.value)
    form.entry_id.data = found.reference if found else ""
    form.ensure_key()
    form.ensure_date()
    return render_template("ledger/reverse.html", form=form, found=found, lookup_error=lookup_error,
                           wanted=wanted, threshold=_second_approval_above(), title=_("Reverse an entry"))


def _request_reversal(session, found, form: ReverseForm):
    return reversals.request_reversal(
        session=session, entry_id=found.entry.id, reason=form.reason.data, actor_id=current_user.id,
        effective_date=form.effective_date.data, idempotency_key=form.idempotency_key.data or "",
        threshold_pence=_second_approval_above())


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
        flash(_("The reversal of %(reference)s (%(amount)s) is waiting for a second finance person to approve it.",
                reference=found.reference, amount=gbp(found.amount_pence)), "success")
        return redirect(url_for("ledger.pending_reversals"))
    flash(_("%(reference)s was reversed by %(reversal)s.", reference=found.reference,
            reversal=services.reference(outcome.reversal.id)), "success")
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
    decide = reversals.approve if decision == "approve" else reversals.refuse
    act(lambda s: decide(session=s, request_id=request_id, approver_id=current_user.id),
        done="The reversal was made." if decision == "approve" else "The reversal was refused: nothing changed.")
    return redirect(url_for("ledger.pending_reversals"))


@bp.route("/finance/close-month", methods=["GET", "POST"])
@finance_only
def close_month():
    form = CloseMonthForm()
    done = attempt(form, lambda s: services.close_month(session=s, month=parse_month(form.month.data),
                                                        actor_id=current_user.id), field_for={PeriodClosed: "month"})
    if not done.ok:
        return render_template("ledger/close_month.html", form=form, title=_("Close a month"))
    # The statements (every team's PDF + CSV and the county pack, ~1.6 s a team) are frozen outside
    # this request: by cron, or by a thread once this redirect is sent.
    month = done.value.month_start
    flash(_("%(month)s and every month before it are closed. Its statements are being prepared: the finance home "
            "shows when they are ready.", month=f"{month:%B %Y}"), "success")
    response = redirect(url_for("statements.finance_home"))
    signals.month_closed.send(current_app._get_current_object(), month=month, response=response)
    return response
