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

from community import mail
from community.auth import signed_in, staff, team_staff
from community.db import get_session
from community.formatting import gbp
from community.limits import CODE_PER_ADDRESS, limiter
from community.models import Person, Team
from community.numbers import is_ascii_digits
from community.signin import safe_next
from ledger import spend
from ledger.errors import DomainError, InsufficientFunds, InvalidAmount, NotFound, PeriodClosed
from ledger.forms import parse_date
from ledger.money import parse_pence
from ledger.spend_forms import (
    BUDGET,
    ActionForm,
    ConfirmIdentityForm,
    DecideLimitsForm,
    LimitsForm,
    PayForm,
    RejectForm,
    RequestForm,
)
from ledger.spend_models import CATEGORIES, METHODS, SpendStatus

spend_bp = Blueprint("spend", __name__)
TOO_LARGE = "The receipt must be 10 MB or smaller. Take a smaller photo, or save the PDF smaller."


# --------------------------------------------------------------------------- helpers


def receipts_dir() -> Path:
    """Where receipts are kept: ``instance/receipts`` (never under static)."""
    configured = current_app.config.get("RECEIPTS_DIR")
    if configured:
        return Path(configured)
    base = current_app.config.get("INSTANCE_UPLOADS") or current_app.instance_path
    return Path(base) / "receipts"


def _fresh_settings() -> dict:
    return {
        "fresh_above_pence": int(current_app.config.get("SPEND_FRESH_ABOVE_PENCE", spend.FRESH_ABOVE_PENCE)),
        "fresh_minutes": int(current_app.config.get("SPEND_FRESH_MINUTES", spend.FRESH_MINUTES)),
    }


def _person() -> Person:
    return get_session().get(Person, current_user.id)


def _request_or_404(team: Team, request_id: int):
    try:
        return spend.get_request(session=get_session(), team=team, request_id=request_id)
    except NotFound:
        abort(404)


def _show_error(form, error: DomainError, field_for: dict[type, str] | None = None) -> None:
    """Roll back and put the message beside its field, or above the form."""
    get_session().rollback()
    name = getattr(error, "field", None)
    if name is None and field_for:
        name = next((f for kind, f in field_for.items() if isinstance(error, kind)), None)
    field = getattr(form, name, None) if name else None
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        form.form_errors.append(str(error))


def _detail(team: Team, request_id: int):
    return redirect(url_for("spend.detail", slug=team.slug, request_id=request_id))


def _send(to: str, subject: str, body: str) -> None:
    """Queue an email in the action's transaction (sent after the commit; see community.mail)."""
    mail.send(to=to, subject=subject, body=body)


def _notify_new(team: Team, spend_request) -> None:
    session = get_session()
    link = url_for("spend.detail", slug=team.slug, request_id=spend_request.id, _external=True)
    requester = spend._name(session, spend_request.requester_id)
    for person in spend.approvers_of(session=session, team=team, request=spend_request):
        _send(person.email, f"Spend request: {gbp(spend_request.amount_pence)} for {team.name}",
              f"{requester} asks to spend {gbp(spend_request.amount_pence)}: {spend_request.purpose}\n\n"
              f"Approve or reject it here: {link}\n")


def _notify_decision(team: Team, spend_request) -> None:
    session = get_session()
    requester = session.get(Person, spend_request.requester_id)
    link = url_for("spend.detail", slug=team.slug, request_id=spend_request.id, _external=True)
    who = spend._name(session, spend_request.decided_by_id)
    if spend_request.status == SpendStatus.REJECTED:
        body = (f"{who} rejected your request for {gbp(spend_request.amount_pence)}.\n\n"
                f"Reason: {spend_request.rejection_reason}\n\n{link}\n")
        subject = "Your spend request was rejected"
    else:
        body = (f"{who} approved your request for {gbp(spend_request.amount_pence)}. The money is committed; "
                f"record the payment and upload the receipt here: {link}\n")
        subject = "Your spend request was approved"
    _send(requester.email, subject, body)


@spend_bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error):
    """A receipt over the request limit: back to the form with a clear message, not a bare 413."""
    args = request.view_args or {}
    if request.endpoint == "spend.pay" and "slug" in args and "request_id" in args:
        return redirect(url_for("spend.pay", slug=args["slug"], request_id=args["request_id"], too_large=1))
    return render_template("errors/error.html", code=413, title="File too large", message=TOO_LARGE), 413


# --------------------------------------------------------------------------- pages


@spend_bp.get("/teams/<slug>/spend")
@team_staff
def dashboard(team: Team):
    session = get_session()
    board = spend.dashboard(session=session, team=team)
    role = current_user.role_in(team.id)
    history = spend.limit_history(session=session, team=team)
    people = {c.requested_by_id for c in history} | {c.decided_by_id for c in history if c.decided_by_id}
    return render_template("spend/dashboard.html", team=team, board=board, role=role,
                           categories=dict(CATEGORIES), limit_history=history,
                           pending_limits=next((c for c in history if c.status == "pending"), None),
                           limit_names={i: spend._name(session, i) for i in people})


@spend_bp.route("/teams/<slug>/spend/new", methods=["GET", "POST"])
@team_staff
def new(team: Team):
    session = get_session()
    form = RequestForm()
    choices = spend.funding_choices(session=session, team=team)
    form.account_id.choices = [
        (BUDGET if f.account_id is None else str(f.account_id), f"{f.label} ({gbp(f.available_pence)} available)")
        for f in choices
    ]
    ideas = spend.idea_choices(session, team)
    form.idea_id.choices = [("", "None"), *((str(i), title) for i, title in ideas)]
    vote_link = None
    if request.method == "GET":
        form.account_id.data = BUDGET
    if form.validate_on_submit():
        account = form.account_id.data
        idea = form.idea_id.data or ""
        try:
            created = spend.request_spend(
                session=session, team=team, requester=_person(), amount_pence=parse_pence(form.amount.data),
                payee=form.payee.data, payee_is_individual=form.payee_is_individual.data,
                purpose=form.purpose.data, category=form.category.data,
                account_id=None if account == BUDGET else int(account) if is_ascii_digits(account) else -1,
                idea_id=int(idea) if is_ascii_digits(idea) else None,
            )
            _notify_new(team, created)
            session.commit()
        except DomainError as error:
            if isinstance(error, spend.OverLimit) and error.needs_vote:
                vote_link = spend.ideas_path(team)
            _show_error(form, error, {InvalidAmount: "amount", NotFound: "account_id"})
        else:
            flash(f"Your request for {gbp(created.amount_pence)} was sent to the team for approval.", "success")
            return _detail(team, created.id)
    return render_template("spend/new.html", form=form, team=team, ideas=ideas, vote_link=vote_link,
                           role=current_user.role_in(team.id), title="Ask to spend money")


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
    return render_template(
        "spend/detail.html", team=team, r=spend_request, action=action, reject_form=reject_form or RejectForm(),
        is_requester=spend_request.requester_id == me, limit=limit, within_vote=voted,
        can_approve=any(p.id == me for p in approvers),
        approver_names=spend.either([p.name for p in approvers]) if approvers else "",
        needs_vote=spend_request.amount_pence > team.enabler_limit_pence and not voted,
        vote_link=spend.ideas_path(team),
        names={p: spend._name(session, p) for p in (spend_request.requester_id, spend_request.decided_by_id,
                                                   spend_request.closed_by_id) if p},
        fund=spend.fund_label(session, spend_request), categories=dict(CATEGORIES), methods=dict(METHODS),
        fresh=spend.is_fresh(current_user.auth_session, minutes=_fresh_settings()["fresh_minutes"]),
        fresh_above=_fresh_settings()["fresh_above_pence"],
    )


@spend_bp.post("/teams/<slug>/spend/<int:request_id>/approve")
@team_staff
def approve(team: Team, request_id: int):
    session = get_session()
    spend_request = _request_or_404(team, request_id)
    form = ActionForm()
    if not form.validate_on_submit():
        flash("The form expired. Try again.", "error")
        return _detail(team, request_id)
    amount = spend_request.amount_pence
    try:
        approved = spend.approve(session=session, team=team, request_id=request_id, approver=_person(),
                                 auth_session=current_user.auth_session,
                                 idempotency_key=form.idempotency_key.data or "", **_fresh_settings(),
                                 on_approved=lambda approved_now: _notify_decision(team, approved_now))
        session.commit()
    except NotFound:
        session.rollback()
        abort(404)
    except spend.NeedsFreshSignIn as error:
        session.rollback()
        flash(str(error), "info")
        return redirect(url_for("spend.confirm_identity", slug=team.slug,
                                next=url_for("spend.detail", slug=team.slug, request_id=request_id)))
    except InsufficientFunds as error:
        session.rollback()
        spend.record_overspend_refused(session=session, team=team, request_id=request_id,
                                       actor_id=current_user.id, amount_pence=amount)
        session.commit()
        flash(f"Not approved: {error} Nothing was committed.", "error")
        return _detail(team, request_id)
    except DomainError as error:
        session.rollback()
        flash(str(error), "error")
        return _detail(team, request_id)
    flash(f"Approved: {gbp(approved.amount_pence)} is committed from the team’s money.", "success")
    return _detail(team, request_id)


@spend_bp.post("/teams/<slug>/spend/<int:request_id>/reject")
@team_staff
def reject(team: Team, request_id: int):
    session = get_session()
    _request_or_404(team, request_id)
    form = RejectForm()
    if form.validate_on_submit():
        try:
            rejected = spend.reject(session=session, team=team, request_id=request_id, approver=_person(),
                                    reason=form.reason.data)
            _notify_decision(team, rejected)
            session.commit()
        except spend.WrongState as error:
            session.rollback()
            flash(str(error), "error")
            return _detail(team, request_id)
        except DomainError as error:
            _show_error(form, error, {DomainError: "reason"})
        else:
            flash("Rejected. The person who asked has been told why.", "success")
            return _detail(team, request_id)
    return _render_detail(team, request_id, reject_form=form), 400


def _simple_action(team: Team, request_id: int, run, done: str):
    session = get_session()
    _request_or_404(team, request_id)
    form = ActionForm()
    if not form.validate_on_submit():
        flash("The form expired. Try again.", "error")
        return _detail(team, request_id)
    try:
        run(session, form.idempotency_key.data or "")
        session.commit()
    except NotFound:
        session.rollback()
        abort(404)
    except DomainError as error:
        session.rollback()
        flash(str(error), "error")
    else:
        flash(done, "success")
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
    return _simple_action(
        team, request_id,
        lambda s, key: spend.cancel(session=s, team=team, request_id=request_id, actor=_person(),
                                    idempotency_key=key),
        "The approval was cancelled and the money released.")


def _read_upload(storage) -> bytes | None:
    """The uploaded bytes (at most the limit + 1), or None when no file was chosen."""
    if storage is None or not getattr(storage, "filename", ""):
        return None
    return storage.stream.read(spend.RECEIPT_MAX_BYTES + 1)


@spend_bp.route("/teams/<slug>/spend/<int:request_id>/pay", methods=["GET", "POST"])
@team_staff
def pay(team: Team, request_id: int):
    session = get_session()
    spend_request = _request_or_404(team, request_id)
    form = PayForm()  # reading an over-limit body raises 413: see _too_large
    if request.method == "GET":
        if not form.amount.data:
            form.amount.data = f"{spend_request.amount_pence / 100:.2f}"
        if request.args.get("too_large"):
            form.receipt.errors = [TOO_LARGE]
    if spend_request.status != SpendStatus.APPROVED and request.method == "GET":
        flash(spend._state_message(session, spend_request), "info")
        return _detail(team, request_id)
    if form.validate_on_submit():
        folder, ref = receipts_dir(), None
        try:
            amount = parse_pence(form.amount.data)
            data = _read_upload(form.receipt.data)
            if data is None:
                raise spend.InvalidReceipt("Upload the receipt: a photo or a PDF.", field="receipt")
            ref, content_type = spend.store_receipt(folder, data)
            paid = spend.record_payment(
                session=session, team=team, request_id=request_id, actor=_person(), actual_pence=amount,
                paid_on=parse_date(form.effective_date.data), method=form.method.data, receipt_ref=ref,
                receipt_content_type=content_type, idempotency_key=form.idempotency_key.data or "")
            session.commit()
            if paid.receipt_ref != ref:  # the same form sent again: the first upload is the receipt
                spend.discard_receipt(folder, ref)
        except DomainError as error:
            if ref:
                spend.discard_receipt(folder, ref)
            _show_error(form, error, {InvalidAmount: "amount", PeriodClosed: "effective_date"})
        except BaseException:
            if ref:  # an unexpected failure (the database gone, say) leaves no orphan file either
                spend.discard_receipt(folder, ref)
            raise
        else:
            flash(f"Payment of {gbp(amount)} recorded on the team’s ledger with its receipt.", "success")
            return _detail(team, request_id)
    form.ensure_key()
    form.ensure_date()
    status = 400 if form.errors or form.form_errors or request.args.get("too_large") else 200
    return render_template("spend/pay.html", form=form, team=team, r=spend_request,
                           title="Record the payment"), status


@spend_bp.get("/teams/<slug>/spend/<int:request_id>/receipt")
@signed_in
def receipt(slug: str, request_id: int):
    """The receipt, for the team's members and finance signed in with their second factor;
    404 for everyone else (residents included), so its existence is not revealed."""
    session = get_session()
    team = session.execute(select(Team).where(Team.slug == slug)).scalar_one_or_none()
    if team is None or not current_user.has_second_factor:
        abort(404)
    if not (current_user.person.is_finance or current_user.role_in(team.id)):
        abort(404)
    spend_request = _request_or_404(team, request_id)
    path = spend.receipt_path(receipts_dir(), spend_request.receipt_ref)
    if path is None or spend_request.receipt_content_type not in spend.RECEIPT_TYPES:
        abort(404)
    extension = spend.RECEIPT_TYPES[spend_request.receipt_content_type]
    name = f"receipt-{team.slug}-{spend_request.id}.{extension}"
    response = send_file(path, mimetype=spend_request.receipt_content_type, as_attachment=True,
                         download_name=name, max_age=0)
    # RFC 6266: a plain filename for old clients and filename* for the rest. The name is ours (the
    # uploader's is never kept), and quote() makes it safe however a slug is spelt.
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{quote(name, safe='')}\"; filename*=UTF-8''{quote(name, safe='')}")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


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
            _show_error(form, error)
        else:
            flash("Thank you. You can approve larger amounts for the next 15 minutes.", "success")
            return redirect(target)
    return render_template("spend/confirm.html", form=form, team=team, title="Confirm it is you")


def _limit_defaults() -> spend.LimitDefaults:
    config = current_app.config
    return spend.LimitDefaults(
        member_pence=int(config.get("SPEND_MEMBER_LIMIT_DEFAULT_PENCE", spend.DEFAULT_MEMBER_LIMIT_PENCE)),
        enabler_pence=int(config.get("SPEND_ENABLER_LIMIT_DEFAULT_PENCE", spend.DEFAULT_ENABLER_LIMIT_PENCE)),
    )


def _notify_limits_requested(team: Team, change) -> None:
    session = get_session()
    link = url_for("spend.limit_changes", _external=True)
    who = spend._name(session, change.requested_by_id)
    for person in session.execute(select(Person).where(Person.is_finance, Person.is_active,
                                                       Person.id != change.requested_by_id)).scalars():
        _send(person.email, f"Approval limits for {team.name}: a raise waits for you",
              f"{who} asks to let members of {team.name} approve up to {gbp(change.member_limit_pence)} "
              f"(now {gbp(change.previous_member_limit_pence)}) and the enabler up to "
              f"{gbp(change.enabler_limit_pence)} (now {gbp(change.previous_enabler_limit_pence)}).\n\n"
              f"This is above the council's defaults, so it waits for finance or an admin: {link}\n")


def _notify_limits_decided(team: Team, change) -> None:
    session = get_session()
    asker = session.get(Person, change.requested_by_id)
    who = spend._name(session, change.decided_by_id)
    if change.status == "approved":
        body = (f"{who} approved the new approval limits of {team.name}: members up to "
                f"{gbp(change.member_limit_pence)}, the enabler up to {gbp(change.enabler_limit_pence)}.\n")
    else:
        body = f"{who} refused the new approval limits of {team.name}. Reason: {change.reason}\n"
    _send(asker.email, f"Approval limits for {team.name} were {change.status}", body)


@spend_bp.route("/teams/<slug>/spend/limits", methods=["GET", "POST"])
@team_staff
def limits(team: Team):
    """Enter the limits, see what the change would do (nothing written), then confirm it."""
    if current_user.role_in(team.id) != "enabler":
        abort(403)
    session = get_session()
    form = LimitsForm()
    plan = None
    if request.method == "GET":
        form.member_limit.data = f"{team.member_limit_pence / 100:.2f}"
        form.enabler_limit.data = f"{team.enabler_limit_pence / 100:.2f}"
    if form.validate_on_submit():
        values = {"member_limit_pence": parse_pence(form.member_limit.data),
                  "enabler_limit_pence": parse_pence(form.enabler_limit.data)}
        try:
            if form.confirmed.data != "yes":
                plan = spend.plan_limits(session=session, team=team, actor=_person(), defaults=_limit_defaults(),
                                         **values)
            else:
                change = spend.set_limits(session=session, team=team, actor=_person(), defaults=_limit_defaults(),
                                          **values)
                if change.status == "pending":
                    _notify_limits_requested(team, change)
                session.commit()
        except DomainError as error:
            plan = None
            _show_error(form, error)
        else:
            if plan is None:
                if change.status == "pending":
                    flash(f"Your change of the limits is waiting for finance to confirm: until then members approve up "
                          f"to {gbp(team.member_limit_pence)} and the enabler up to {gbp(team.enabler_limit_pence)}.",
                          "success")
                else:
                    flash(f"Members may now approve up to {gbp(team.member_limit_pence)} and the enabler up to "
                          f"{gbp(team.enabler_limit_pence)}.", "success")
                return redirect(url_for("spend.dashboard", slug=team.slug))
    return render_template("spend/limits.html", form=form, team=team, plan=plan, defaults=_limit_defaults(),
                           pending=spend.pending_limit_change(session=session, team=team),
                           action_form=DecideLimitsForm(), title="Approval limits")


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
        flash("You withdrew the change of limits: they stay as they are.", "success")
    return redirect(url_for("spend.dashboard", slug=team.slug))


def _finance_or_admin() -> None:
    if not (current_user.person.is_finance or current_user.person.is_admin):
        abort(403)


def _render_limit_changes(errors: dict | None = None, status: int = 200):
    waiting = spend.list_pending_limit_changes(session=get_session())
    names = {c.requested_by_id: spend._name(get_session(), c.requested_by_id) for c, _ in waiting}
    return render_template("spend/limit_changes.html", waiting=waiting, names=names, form=DecideLimitsForm(),
                           errors=errors or {}, defaults=_limit_defaults(), title="Approval limits waiting"), status


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
    session = get_session()
    try:
        if decision == "approve":
            change = spend.approve_limit_change(session=session, change_id=change_id, actor=_person())
        else:
            change = spend.refuse_limit_change(session=session, change_id=change_id, actor=_person(),
                                               reason=form.reason.data)
        team = session.get(Team, change.team_id)
        _notify_limits_decided(team, change)
        session.commit()
    except NotFound:
        abort(404)
    except DomainError as error:
        session.rollback()
        return _render_limit_changes({change_id: str(error)})
    flash(f"The new limits of {team.name} apply now." if decision == "approve"
          else f"You refused the new limits of {team.name}: they stay as they are.", "success")
    return redirect(url_for("spend.limit_changes"))


@spend_bp.app_template_filter("spend_wait")
def spend_wait(value) -> str:
    """A waiting time in words: '3 days', '5 hours', '12 minutes'."""
    seconds = max(int(value.total_seconds()), 0)
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "less than a minute"
