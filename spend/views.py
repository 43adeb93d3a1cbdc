"""HTTP views of quick spend (blueprint ``spend``): the team's spend dashboard, requesting,
approving / rejecting, withdrawing, cancelling, paying with a receipt, downloading a receipt,
the enabler's limits page and the confirm-identity step for large approvals.

Pattern as in ``ledger.views``: parse the form → load (404 for another team's request) → call
ONE service → queue the email (``community.mail``, in the same transaction) → commit → flash →
redirect; on a refusal roll back and say why beside the field (or at the top). Nothing is
written on any refusal, except the audit event that records an approval refused for lack of money.
"""

from pathlib import Path
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from community.auth import signed_in, staff, team_staff
from community.db import get_session
from community.formatting import gbp
from community.i18n import _, lazy_gettext
from community.limits import CODE_PER_ADDRESS, limiter
from community.models import Person, Team
from community.numbers import is_ascii_digits
from community.signin import safe_next
from community.web import act, attempt, show_error
from ledger.errors import DomainError, InsufficientFunds, InvalidAmount, NotFound, PeriodClosed
from ledger.money import parse_pence
from spend import notifications, receipts
from spend import services as spend
from spend.forms import (
    BUDGET,
    ActionForm,
    CancelForm,
    ConfirmIdentityForm,
    DecideLimitsForm,
    LimitsForm,
    PayForm,
    RejectForm,
    RequestForm,
)
from spend.models import CATEGORIES, METHODS, SpendStatus

spend_bp = Blueprint("spend", __name__)
TOO_LARGE = lazy_gettext("The receipt must be 10 MB or smaller. Take a smaller photo, or save the PDF smaller.")


# --------------------------------------------------------------------------- helpers


def receipts_dir() -> Path:
    """Where receipts are kept: ``instance/receipts`` (never under static)."""
    configured = current_app.config["RECEIPTS_DIR"]
    if configured:
        return Path(configured)
    base = current_app.config["INSTANCE_UPLOADS"] or current_app.instance_path
    return Path(base) / "receipts"


def _fresh_settings() -> dict:
    return {
        "fresh_above_pence": int(current_app.config["SPEND_FRESH_ABOVE_PENCE"]),
        "fresh_minutes": int(current_app.config["SPEND_FRESH_MINUTES"]),
    }


def _person() -> Person:
    return get_session().get(Person, current_user.id)


def _request_or_404(team: Team, request_id: int):
    try:
        return spend.get_request(session=get_session(), team=team, request_id=request_id)
    except NotFound:
        abort(404)


def _detail(team: Team, request_id: int):
    return redirect(url_for("spend.detail", slug=team.slug, request_id=request_id))


@spend_bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error):
    """A receipt over the request limit: back to the form with a clear message, not a bare 413."""
    args = request.view_args or {}
    if request.endpoint == "spend.pay" and "slug" in args and "request_id" in args:
        return redirect(url_for("spend.pay", slug=args["slug"], request_id=args["request_id"], too_large=1))
    return render_template("errors/error.html", code=413, title=_("File too large"), message=TOO_LARGE), 413


# --------------------------------------------------------------------------- pages


@spend_bp.get("/teams/<slug>/spend")
@team_staff
def dashboard(team: Team):
    session = get_session()
    role = current_user.role_in(team.id)
    history = spend.limit_history(session=session, team=team)
    board = spend.dashboard(session=session, team=team,
                            also_named=[i for c in history for i in (c.requested_by_id, c.decided_by_id)])
    return render_template("spend/dashboard.html", team=team, board=board, role=role,
                           categories=dict(CATEGORIES), limit_history=history,
                           pending_limits=next((c for c in history if c.status == "pending"), None),
                           limit_names=board.names)


def _request_form(session, team: Team) -> tuple[RequestForm, list]:
    """The request form with the team's funds (and what each has left) and funded ideas to choose."""
    form = RequestForm()
    form.account_id.choices = [
        (BUDGET if f.account_id is None else str(f.account_id), f"{f.label} ({gbp(f.available_pence)} available)")
        for f in spend.funding_choices(session=session, team=team)
    ]
    ideas = spend.idea_choices(session=session, team=team)
    form.idea_id.choices = [("", "None"), *((str(i), title) for i, title in ideas)]
    if request.method == "GET":
        form.account_id.data = BUDGET
    return form, ideas


def _ask(session, team: Team, form: RequestForm):
    account, idea = form.account_id.data, form.idea_id.data or ""
    created = spend.request_spend(
        session=session, team=team, requester=_person(), amount_pence=parse_pence(form.amount.data),
        payee=form.payee.data, payee_is_individual=form.payee_is_individual.data,
        purpose=form.purpose.data, category=form.category.data,
        account_id=None if account == BUDGET else int(account) if is_ascii_digits(account) else -1,
        idea_id=int(idea) if is_ascii_digits(idea) else None,
    )
    notifications.new_request(session=session, team=team, spend_request=created)
    return created


@spend_bp.route("/teams/<slug>/spend/new", methods=["GET", "POST"])
@team_staff
def new(team: Team):
    form, ideas = _request_form(get_session(), team)
    done = attempt(form, lambda s: _ask(s, team, form), field_for={InvalidAmount: "amount", NotFound: "account_id"})
    if done.ok:
        flash(_("Your request for %(amount)s was sent to the team for approval.", amount=gbp(done.value.amount_pence)), "success")
        return _detail(team, done.value.id)
    needs_vote = isinstance(done.error, spend.OverLimit) and done.error.needs_vote
    return render_template("spend/new.html", form=form, team=team, ideas=ideas,
                           vote_link=spend.ideas_path(team) if needs_vote else None,
                           role=current_user.role_in(team.id), title=_("Ask to spend money"))


@spend_bp.get("/teams/<slug>/spend/<int:request_id>")
@team_staff
def detail(team: Team, request_id: int):
    return _render_detail(team, request_id)


def _render_detail(team: Team, request_id: int, reject_form=None):
    session = get_session()
    spend_request = _request_or_404(team, request_id)
    action = ActionForm()
    action.ensure_key()
    me = current_user.id
    role = current_user.role_in(team.id)
    limit = team.enabler_limit_pence if role == "enabler" else team.member_limit_pence
    pending = spend_request.status == SpendStatus.PENDING
    approvers = spend.approvers_of(session=session, team=team, request=spend_request) if pending else []
    voted = spend.within_vote(session=session, team=team, request=spend_request)
    approved = spend_request.status == SpendStatus.APPROVED
    back = spend.cancel_return(session=session, team=team, request=spend_request) if approved else None
    return render_template(
        "spend/detail.html", team=team, r=spend_request, action=action, back=back, reject_form=reject_form or RejectForm(),
        is_requester=spend_request.requester_id == me, limit=limit, within_vote=voted,
        can_approve=any(p.id == me for p in approvers),
        approver_names=spend.either([p.name for p in approvers]) if approvers else "",
        needs_vote=spend_request.amount_pence > team.enabler_limit_pence and not voted,
        vote_link=spend.ideas_path(team),
        names={p: spend.person_name(session=session, person_id=p) for p in (spend_request.requester_id, spend_request.decided_by_id,
                                                   spend_request.closed_by_id) if p},
        fund=spend.fund_label(session=session, request=spend_request), categories=dict(CATEGORIES), methods=dict(METHODS),
        fresh=spend.is_fresh(current_user.auth_session, minutes=_fresh_settings()["fresh_minutes"]),
        fresh_above=_fresh_settings()["fresh_above_pence"],
    )


@spend_bp.post("/teams/<slug>/spend/<int:request_id>/approve")
@team_staff
def approve(team: Team, request_id: int):
    spend_request = _request_or_404(team, request_id)
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Try again."), "error")
        return _detail(team, request_id)
    try:
        _approve(team, spend_request, form.idempotency_key.data or "")
    except spend.NeedsFreshSignIn as error:
        flash(str(error), "info")
        return redirect(url_for("spend.confirm_identity", slug=team.slug,
                                next=url_for("spend.detail", slug=team.slug, request_id=request_id)))
    return _detail(team, request_id)


def _approve(team: Team, spend_request, key: str) -> None:
    """Approve and commit, flashing what happened; a refusal for lack of money is itself recorded
    (audited, for the statement) after the rollback. NeedsFreshSignIn is left to the caller."""
    session, amount = get_session(), spend_request.amount_pence
    try:
        approved = spend.approve(session=session, team=team, request_id=spend_request.id, approver=_person(),
                                 auth_session=current_user.auth_session, idempotency_key=key, **_fresh_settings(),
                                 on_approved=lambda done: notifications.decided(session=session, team=team,
                                                                                spend_request=done))
        session.commit()
    except (spend.NeedsFreshSignIn, NotFound):
        session.rollback()
        raise
    except InsufficientFunds as error:
        session.rollback()
        spend.record_overspend_refused(session=session, team=team, request_id=spend_request.id,
                                       actor_id=current_user.id, amount_pence=amount)
        session.commit()
        flash(_("Not approved: %(error)s Nothing was committed.", error=error), "error")
    except DomainError as error:
        session.rollback()
        flash(str(error), "error")
    else:
        flash(_("Approved: %(amount)s is committed from the team’s money.", amount=gbp(approved.amount_pence)), "success")


@spend_bp.post("/teams/<slug>/spend/<int:request_id>/reject")
@team_staff
def reject(team: Team, request_id: int):
    _request_or_404(team, request_id)
    form = RejectForm()
    done = attempt(form, lambda s: _reject(s, team, request_id, form.reason.data), field_for={DomainError: "reason"})
    if done.ok or isinstance(done.error, spend.WrongState):
        if done.ok:
            flash(_("Rejected. The person who asked has been told why."), "success")
        else:
            flash(str(done.error), "error")
        return _detail(team, request_id)
    return _render_detail(team, request_id, reject_form=form), 400


def _reject(session, team: Team, request_id: int, reason: str):
    rejected = spend.reject(session=session, team=team, request_id=request_id, approver=_person(), reason=reason)
    notifications.decided(session=session, team=team, spend_request=rejected)
    return rejected


def _simple_action(team: Team, request_id: int, run, done: str):
    _request_or_404(team, request_id)
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Try again."), "error")
    else:
        act(lambda s: run(s, form.idempotency_key.data or ""), done=done)
    return _detail(team, request_id)


@spend_bp.post("/teams/<slug>/spend/<int:request_id>/withdraw")
@team_staff
def withdraw(team: Team, request_id: int):
    return _simple_action(
        team, request_id,
        lambda s, _key: spend.withdraw(session=s, team=team, request_id=request_id, actor=_person()),
        "Your request was withdrawn.")


@spend_bp.post("/teams/<slug>/spend/<int:request_id>/cancel")
@team_staff
def cancel(team: Team, request_id: int):
    _request_or_404(team, request_id)
    form = CancelForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Try again."), "error")
    else:
        act(lambda s: _cancel(s, team, request_id, form), done=_cancelled_message)
    return _detail(team, request_id)


def _cancel(session, team: Team, request_id: int, form: CancelForm) -> spend.Return:
    spend_request = _request_or_404(team, request_id)
    back = spend.cancel_return(session=session, team=team, request=spend_request)
    shown = form.expected_to_idea_pence
    spend.cancel(session=session, team=team, request_id=request_id, actor=_person(),
                 idempotency_key=form.idempotency_key.data or "",
                 expected_to_idea_pence=back.to_idea_pence if shown is None else shown)  # what the message says
    return back


def _cancelled_message(back: spend.Return) -> str:
    if not back.to_idea_pence:
        return _("The approval was cancelled and %(amount)s released to the team’s budget.", amount=gbp(back.amount_pence))
    if not back.to_budget_pence:
        return _("The approval was cancelled: %(amount)s went back to the idea “%(title)s”.",
                 amount=gbp(back.to_idea_pence), title=back.idea_title)
    return _("The approval was cancelled: %(to_idea)s went back to the idea “%(title)s” and %(to_budget)s to the "
             "team’s budget.", to_idea=gbp(back.to_idea_pence), title=back.idea_title, to_budget=gbp(back.to_budget_pence))


def _read_upload(storage) -> bytes | None:
    """The uploaded bytes (at most the limit + 1), or None when no file was chosen."""
    if storage is None or not getattr(storage, "filename", ""):
        return None
    return storage.stream.read(receipts.RECEIPT_MAX_BYTES + 1)


@spend_bp.route("/teams/<slug>/spend/<int:request_id>/pay", methods=["GET", "POST"])
@team_staff
def pay(team: Team, request_id: int):
    spend_request = _request_or_404(team, request_id)
    form = PayForm()  # reading an over-limit body raises 413: see _too_large
    if request.method == "GET" and spend_request.status != SpendStatus.APPROVED:
        flash(spend.state_message(session=get_session(), request=spend_request), "info")
        return _detail(team, request_id)
    _prefill_payment(form, spend_request)
    done = attempt(form, lambda s: _pay(s, team, request_id, form),
                   field_for={InvalidAmount: "amount", PeriodClosed: "effective_date"})
    if done.ok:
        flash(_("Payment of %(amount)s recorded on the team’s ledger with its receipt.", amount=gbp(done.value.paid_pence)),
              "success")
        return _detail(team, request_id)
    return _pay_page(form, team, spend_request)


def _prefill_payment(form: PayForm, spend_request) -> None:
    if request.method == "GET":
        if not form.amount.data:
            form.amount.data = f"{spend_request.amount_pence / 100:.2f}"
        if request.args.get("too_large"):
            form.receipt.errors = [TOO_LARGE]


def _pay_page(form: PayForm, team: Team, spend_request):
    form.ensure_key()
    form.ensure_date()
    status = 400 if form.errors or form.form_errors or request.args.get("too_large") else 200
    return render_template("spend/pay.html", form=form, team=team, r=spend_request, title=_("Record the payment")), status


def _pay(session, team: Team, request_id: int, form: PayForm):
    """Store the receipt, record the payment and commit; the stored file is removed again if
    anything fails (the database gone, say) or the same form was sent twice (the first upload is
    the receipt), so no orphan file is left."""
    amount = parse_pence(form.amount.data)
    data = _read_upload(form.receipt.data)
    if data is None:
        raise spend.InvalidReceipt(_("Upload the receipt: a photo or a PDF."), field="receipt")
    folder = receipts_dir()
    ref, content_type = receipts.store_receipt(folder, data)
    try:
        paid = spend.record_payment(
            session=session, team=team, request_id=request_id, actor=_person(), actual_pence=amount,
            paid_on=form.effective_date.data, method=form.method.data, receipt_ref=ref,
            receipt_content_type=content_type, idempotency_key=form.idempotency_key.data or "")
        session.commit()
    except BaseException:
        receipts.discard_receipt(folder, ref)
        raise
    if paid.receipt_ref != ref:
        receipts.discard_receipt(folder, ref)
    return paid


@spend_bp.get("/teams/<slug>/spend/<int:request_id>/receipt")
@signed_in
def receipt(slug: str, request_id: int):
    """The receipt, for the team's members and finance signed in with their second factor;
    404 for everyone else (residents included), so its existence is not revealed."""
    team, spend_request, path = _receipt_or_404(slug, request_id)
    name = f"receipt-{team.slug}-{spend_request.id}.{receipts.RECEIPT_TYPES[spend_request.receipt_content_type]}"
    response = send_file(path, mimetype=spend_request.receipt_content_type, as_attachment=True,
                         download_name=name, max_age=0)
    # RFC 6266: a plain filename for old clients and filename* for the rest. The name is ours (the
    # uploader's is never kept), and quote() makes it safe however a slug is spelt.
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{quote(name, safe='')}\"; filename*=UTF-8''{quote(name, safe='')}")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


def _receipt_or_404(slug: str, request_id: int):
    session = get_session()
    team = session.execute(select(Team).where(Team.slug == slug)).scalar_one_or_none()
    if team is None or not current_user.has_second_factor:
        abort(404)
    if not (current_user.person.is_finance or current_user.role_in(team.id)):
        abort(404)
    spend_request = _request_or_404(team, request_id)
    path = receipts.receipt_path(receipts_dir(), spend_request.receipt_ref)
    if path is None or spend_request.receipt_content_type not in receipts.RECEIPT_TYPES:
        abort(404)
    return team, spend_request, path


@spend_bp.route("/teams/<slug>/spend/confirm-identity", methods=["GET", "POST"])
@team_staff
@limiter.limit(CODE_PER_ADDRESS, methods=["POST"])
def confirm_identity(team: Team):
    target = safe_next(request.args.get("next"), url_for("spend.dashboard", slug=team.slug))
    form = ConfirmIdentityForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            spend.confirm_identity(session=session, person=_person(), auth_session=current_user.auth_session,
                                   password=form.password.data, code=form.code.data)
            session.commit()
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Thank you. You can approve larger amounts for the next 15 minutes."), "success")
            return redirect(target)
    return render_template("spend/confirm.html", form=form, team=team, title=_("Confirm it is you"))


def _limit_defaults() -> spend.LimitDefaults:
    config = current_app.config
    return spend.LimitDefaults(
        member_pence=int(config["SPEND_MEMBER_LIMIT_DEFAULT_PENCE"]),
        enabler_pence=int(config["SPEND_ENABLER_LIMIT_DEFAULT_PENCE"]),
    )


@spend_bp.route("/teams/<slug>/spend/limits", methods=["GET", "POST"])
@team_staff
def limits(team: Team):
    """Enter the limits, see what the change would do (nothing written), then confirm it."""
    if current_user.role_in(team.id) != "enabler":
        abort(403)
    form = LimitsForm()
    if request.method == "GET":
        form.member_limit.data = f"{team.member_limit_pence / 100:.2f}"
        form.enabler_limit.data = f"{team.enabler_limit_pence / 100:.2f}"
    preview = form.confirmed.data != "yes"
    done = attempt(form, lambda s: _limits(s, team, form, preview=preview))
    if done.ok and not preview:
        flash(_limits_message(team, done.value), "success")
        return redirect(url_for("spend.dashboard", slug=team.slug))
    return render_template("spend/limits.html", form=form, team=team, plan=done.value if done.ok else None,
                           defaults=_limit_defaults(), pending=spend.pending_limit_change(session=get_session(), team=team),
                           action_form=DecideLimitsForm(), title=_("Approval limits"))


def _limits(session, team: Team, form: LimitsForm, *, preview: bool):
    """What the change would do (``preview``: nothing written), or the change made (waiting for
    finance, who are told, when it raises the limits above the council's defaults)."""
    values = {"member_limit_pence": parse_pence(form.member_limit.data),
              "enabler_limit_pence": parse_pence(form.enabler_limit.data)}
    if preview:
        return spend.plan_limits(session=session, team=team, actor=_person(), defaults=_limit_defaults(), **values)
    change = spend.set_limits(session=session, team=team, actor=_person(), defaults=_limit_defaults(), **values)
    if change.status == "pending":
        notifications.limits_requested(session=session, team=team, change=change)
    return change


def _limits_message(team: Team, change) -> str:
    if change.status == "pending":
        return _("Your change of the limits is waiting for finance to confirm: until then members approve up to "
                 "%(member)s and the enabler up to %(enabler)s.", member=gbp(team.member_limit_pence),
                 enabler=gbp(team.enabler_limit_pence))
    return _("Members may now approve up to %(member)s and the enabler up to %(enabler)s.",
             member=gbp(team.member_limit_pence), enabler=gbp(team.enabler_limit_pence))


@spend_bp.post("/teams/<slug>/spend/limits/<int:change_id>/withdraw")
@team_staff
def withdraw_limits(team: Team, change_id: int):
    if not DecideLimitsForm().validate_on_submit():
        abort(400)
    session = get_session()
    try:
        spend.withdraw_limit_change(session=session, team=team, change_id=change_id, actor=_person())
        session.commit()
    except NotFound:
        abort(404)
    except DomainError as error:
        session.rollback()
        flash(str(error), "error")
    else:
        flash(_("You withdrew the change of limits: they stay as they are."), "success")
    return redirect(url_for("spend.dashboard", slug=team.slug))


def _finance_or_admin() -> None:
    if not (current_user.person.is_finance or current_user.person.is_admin):
        abort(403)


def _render_limit_changes(errors: dict | None = None, status: int = 200):
    waiting = spend.list_pending_limit_changes(session=get_session())
    found = spend.person_names(session=get_session(), ids=[c.requested_by_id for c, _ in waiting])  # one query
    names = {c.requested_by_id: found.get(c.requested_by_id, "someone") for c, _ in waiting}
    return render_template("spend/limit_changes.html", waiting=waiting, names=names, form=DecideLimitsForm(),
                           errors=errors or {}, defaults=_limit_defaults(), title=_("Approval limits waiting")), status


@spend_bp.get("/spend-limits")
@staff
def limit_changes():
    """Finance and admins: every team's raise of limits waiting for a decision."""
    _finance_or_admin()
    return _render_limit_changes()


@spend_bp.post("/spend-limits/<int:change_id>/<any(approve, refuse):decision>")
@staff
def decide_limits(change_id: int, decision: str):
    _finance_or_admin()
    form = DecideLimitsForm()
    if not form.validate_on_submit():
        return _render_limit_changes({change_id: "; ".join(e for errs in form.errors.values() for e in errs)})
    done = attempt(form, lambda s: _decide_limits(s, change_id, decision, form.reason.data), validate=False)
    if not done.ok:
        return _render_limit_changes({change_id: str(done.error)})
    flash(_("The new limits of %(team)s apply now.", team=done.value.name) if decision == "approve"
          else _("You refused the new limits of %(team)s: they stay as they are.", team=done.value.name), "success")
    return redirect(url_for("spend.limit_changes"))


def _decide_limits(session, change_id: int, decision: str, reason: str) -> Team:
    """Approve or refuse the change and tell the asker; the change's team."""
    if decision == "approve":
        change = spend.approve_limit_change(session=session, change_id=change_id, actor=_person())
    else:
        change = spend.refuse_limit_change(session=session, change_id=change_id, actor=_person(), reason=reason)
    team = session.get(Team, change.team_id)
    notifications.limits_decided(session=session, team=team, change=change)
    return team


@spend_bp.app_template_filter("spend_wait")
def spend_wait(value) -> str:
    """A waiting time in words: '3 days', '5 hours', '12 minutes'."""
    seconds = max(int(value.total_seconds()), 0)
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "less than a minute"
