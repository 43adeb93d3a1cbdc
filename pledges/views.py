"""HTTP views of the pledges domain: the team's pledge wall, making a pledge, recording its
fulfilment, withdrawing, reminders, community pledges and signatures, finance's hourly rate.

Pattern (as in ``ledger.views``): parse the form → load or 404 → call ONE service → commit →
flash → redirect; on a DomainError roll back and show the message beside its field. Nothing is
written on any refusal.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from community import mail, numbers
from community.auth import finance_only, public, signed_in, team_or_404, team_staff
from community.db import get_engine, get_session, london_today, open_session
from community.formatting import gbp
from community.i18n import _, lazy_gettext
from community.models import Team
from community.web import act, attempt
from ledger.errors import DomainError, InvalidAmount, NotFound
from ledger.money import parse_pence
from pledges import reasons, services
from pledges.forms import (
    NO_IDEA,
    CommunityPledgeForm,
    DeliveryForm,
    HoursForm,
    MoneyReceivedForm,
    PledgeForm,
    RateForm,
    ReminderForm,
    SignForm,
    UnsignForm,
    WithdrawForm,
)
from pledges.models import CommunityPledge, Pledge, PledgeKind, PledgeStatus, Visibility

bp = Blueprint("pledges", __name__)
# The reasons and actions the app wrote into a pledge's history, in the reader's language (pledges/reasons.py).
bp.add_app_template_filter(reasons.reason_text, "pledge_reason")
bp.add_app_template_filter(lambda action: reasons.action_names().get(action, action), "pledge_action")

KIND_LABELS = {
    "money": (lazy_gettext("Money"), lazy_gettext("An amount of money, for example £200 towards the youth space.")),
    "time": (lazy_gettext("Time"), lazy_gettext("Hours you will give, once or every week or month, for example 2 hours a week at the café.")),
    "goods": (lazy_gettext("Goods or services"), lazy_gettext("Something you will give or do, for example a fridge.")),
    "space": (lazy_gettext("A room or space"), lazy_gettext("The use of a room or hall, for example the church hall on Fridays.")),
}
KIND_FIELDS = {
    "money": {"amount"},
    "time": {"hours", "frequency"},
    "goods": {"quantity", "estimated_value"},
    "space": {"room", "when_text", "estimated_value"},
}
ALL_KIND_FIELDS = {"amount", "hours", "frequency", "quantity", "room", "when_text", "estimated_value"}
STAFF_FIELDS = {"on_behalf_name", "on_behalf_is_organisation", "contact_email"}



def _is_team_staff(team: Team) -> bool:
    return bool(current_user.is_authenticated and current_user.has_second_factor
                and current_user.role_in(team.id))


def _can_see(pledge: Pledge, team_view: bool) -> bool:
    if pledge.visibility != Visibility.PRIVATE or team_view:
        return True
    return current_user.is_authenticated and pledge.pledger_person_id == current_user.id


def _field_error(form, name: str, message: str) -> None:
    field = getattr(form, name)
    field.errors = [*field.errors, message]


def _parse(form, name: str, parser, *, optional: bool = False):
    """Parse one field; on error put the message beside it and return None."""
    field = getattr(form, name, None)
    if field is None:
        return None
    raw = (field.data or "").strip() if isinstance(field.data, str | None) else field.data
    if optional and not raw:
        return None
    try:
        return parser(raw)
    except (DomainError, ValueError) as error:
        _field_error(form, name, str(error))
        return None


def _whole_number(text: str) -> int:
    return numbers.whole_number(text, maximum=999_999_999)


def _thanks(pledge: Pledge, team: Team) -> str:
    """The message after a pledge (a money pledge's page then says how the money is handed over)."""
    return _("Thank you. Pledge %(reference)s to %(team)s is recorded.", reference=pledge.reference, team=team.name)


def _hours(text: str) -> int:
    return services.parse_hours(text)


def _lapse_if_due(team: Team) -> None:
    """Lapse the team's pledges whose date has passed, in a short write transaction of its own."""
    session = get_session()
    team_id, day = team.id, london_today()
    if not services.has_lapse_due(session, team_id, day):
        return
    # End the read snapshot first (and touch nothing of it until the writer has committed), so
    # the rest of this page sees the lapses.
    session.rollback()
    with open_session(get_engine(), write=True) as writer:
        services.lapse_due(session=writer, today=day, team_id=team_id)
        writer.commit()


# --------------------------------------------------------------------------- the wall


@bp.get("/teams/<slug>/pledges")
@public
def wall(slug: str):
    session = get_session()
    team = team_or_404(session, slug)
    _lapse_if_due(team)
    team_view = _is_team_staff(team)
    result = services.wall(session=session, team=team, include_private=team_view)
    due = services.reminders(session=session, team=team, today=london_today()) if team_view else None
    return render_template("pledges/wall.html", team=team, wall=result, team_view=team_view, due=due,
                           community=services.community_pledges(session, team), kinds=KIND_LABELS,
                           public_name=services.public_name, hours=services.hours_text)


# --------------------------------------------------------------------------- making a pledge


@bp.get("/teams/<slug>/pledges/new")
@signed_in
def choose_kind(slug: str):
    team = team_or_404(get_session(), slug)
    return render_template("pledges/choose_kind.html", team=team, kinds=KIND_LABELS,
                           idea=request.args.get("idea", ""))


# What the estimated value or the date means, per kind (the form's labels say it).
_KIND_LABEL_TEXT = {
    "time": ("due_on", lazy_gettext("Until when? (optional, needed for weekly or monthly)")),
    "goods": ("estimated_value", lazy_gettext("Estimated value in total, in pounds (optional)")),
    "space": ("estimated_value", lazy_gettext("Estimated value each time it is used, in pounds (optional)")),
}


def _pledge_form(session, team: Team, kind: str, staff_here: bool) -> PledgeForm:
    """The pledge form with only the fields of ``kind`` (and the on-behalf fields for staff)."""
    form = PledgeForm()
    for name in (ALL_KIND_FIELDS - KIND_FIELDS[kind]) | (set() if staff_here else set(STAFF_FIELDS)):
        delattr(form, name)
    if kind in _KIND_LABEL_TEXT:
        name, text = _KIND_LABEL_TEXT[kind]
        getattr(form, name).label.text = text
    form.idea_id.choices = [("", NO_IDEA), *services.pledge_ideas(session=session, team=team)]
    if request.method == "GET" and numbers.is_ascii_digits(request.args.get("idea", "")):
        form.idea_id.data = numbers.ascii_int(request.args["idea"])
    return form


def _pledge_values(form: PledgeForm) -> dict | None:
    """The amounts typed, parsed (each error beside its field); None when one is wrong."""
    values = dict(
        amount_pence=_parse(form, "amount", parse_pence),
        minutes=_parse(form, "hours", _hours),
        quantity=_parse(form, "quantity", _whole_number),
        estimated_value_pence=_parse(form, "estimated_value", parse_pence, optional=True),
        due_on=form.due_on.data, idea_id=form.idea_id.data,
    )
    return None if any(f.errors for f in form) else values


def _make_pledge(session, team: Team, kind: str, form: PledgeForm, staff_here: bool, values: dict):
    return services.make_pledge(
        session=session, team=team, made_by=current_user.person, kind=kind,
        description=form.description.data, today=london_today(), visibility=form.visibility.data,
        on_behalf_name=form.on_behalf_name.data if staff_here else None,
        on_behalf_is_organisation=bool(staff_here and form.on_behalf_is_organisation.data),
        contact_email=form.contact_email.data if staff_here else None,
        contact_phone=form.contact_phone.data,
        frequency=form.frequency.data if kind == "time" else None,
        room=form.room.data if kind == "space" else None,
        when_text=form.when_text.data if kind == "space" else None,
        **values)


@bp.route("/teams/<slug>/pledges/new/<kind>", methods=["GET", "POST"])
@signed_in
def new_pledge(slug: str, kind: str):
    team = team_or_404(get_session(), slug)
    if kind not in KIND_LABELS:
        abort(404)
    staff_here = _is_team_staff(team)
    form = _pledge_form(get_session(), team, kind, staff_here)
    values = _pledge_values(form) if form.validate_on_submit() else None
    if values is not None:
        done = attempt(form, lambda s: _make_pledge(s, team, kind, form, staff_here, values), validate=False)
        if done.ok:
            flash(_thanks(done.value, team), "success")
            return redirect(url_for("pledges.pledge", slug=team.slug, pledge_id=done.value.id))
    return render_template("pledges/pledge_form.html", form=form, team=team, staff_here=staff_here,
                           title=_("Pledge %(kind)s to %(team)s", kind=str(KIND_LABELS[kind][0]).lower(), team=team.name),
                           hint=KIND_LABELS[kind][1])


# --------------------------------------------------------------------------- one pledge


@bp.get("/teams/<slug>/pledges/<int:pledge_id>")
@public
def pledge(slug: str, pledge_id: int):
    team = team_or_404(get_session(), slug)
    team_view = _is_team_staff(team)
    item = _team_pledge_or_404(team, pledge_id)
    if not _can_see(item, team_view):
        abort(404)
    return render_template("pledges/pledge.html", **_pledge_page(get_session(), team, item, team_view))


def _pledge_page(session, team: Team, item: Pledge, team_view: bool) -> dict:
    """What the pledge page shows: progress, history for the team and the pledger, the idea it is
    towards by title, and, to the pledger of promised money, how the money is handed over."""
    line = services.PledgeLine(pledge=item, received_pence=services.received_pence(session, item.id),
                               given_minutes=services.given_minutes(session, item.id),
                               promised_minutes=services.promised_minutes(item))
    line.deliveries, line.delivered_quantity = services.delivered(session, item.id)
    is_pledger = current_user.is_authenticated and item.pledger_person_id == current_user.id
    ideas = dict(services.pledge_ideas(session=session, team=team)) if item.idea_id else {}
    waiting = is_pledger and item.kind == PledgeKind.MONEY and item.status == PledgeStatus.PROMISED
    return dict(team=team, line=line, p=item, team_view=team_view, is_pledger=is_pledger,
                name=item.pledger_name if (team_view or is_pledger) else services.public_name(item),
                fulfilments=services.fulfilments(session, item.id),
                events=services.events(session, item.id) if team_view or is_pledger else [],
                remind_form=ReminderForm(), hours=services.hours_text, kinds=KIND_LABELS,
                idea_title=ideas.get(item.idea_id), next_step=services.money_next_step(team) if waiting else None)


@bp.route("/teams/<slug>/pledges/<int:pledge_id>/fulfil", methods=["GET", "POST"])
@team_staff
def fulfil(pledge_id: int, team: Team):
    item = _team_pledge_or_404(team, pledge_id)
    form = {PledgeKind.MONEY: MoneyReceivedForm, PledgeKind.TIME: HoursForm}.get(item.kind, DeliveryForm)()
    if item.kind == PledgeKind.SPACE:
        delattr(form, "quantity")
    values = _fulfilment_values(form) if form.validate_on_submit() else None
    if values is not None:
        done = attempt(form, lambda s: _record_fulfilment(s, team, item, form, values),
                       field_for={InvalidAmount: "amount"}, validate=False)
        if done.ok:
            flash(done.value, "success")
            return redirect(url_for("pledges.pledge", slug=team.slug, pledge_id=item.id))
    form.ensure_key()
    form.ensure_date()
    return render_template("pledges/fulfil.html", form=form, team=team, p=item,
                           title=_("Record fulfilment of pledge %(reference)s", reference=item.reference))


def _team_pledge_or_404(team: Team, pledge_id: int):
    try:
        return services.team_pledge(get_session(), team, pledge_id)
    except NotFound:
        abort(404)


def _fulfilment_values(form) -> dict | None:
    """The amount, hours or quantity typed, parsed; None when one is wrong (shown beside it)."""
    values = dict(amount=_parse(form, "amount", parse_pence), minutes=_parse(form, "hours", _hours),
                  quantity=_parse(form, "quantity", _whole_number))
    return None if any(f.errors for f in form) else values


def _record_fulfilment(session, team: Team, item, form, values: dict) -> str:
    """Record money received, hours given or a delivery; returns what to tell the person (in whole
    sentences, each language words its own)."""
    common = dict(session=session, team=team, pledge_id=item.id, effective_date=form.effective_date.data,
                  actor_id=current_user.id, idempotency_key=form.idempotency_key.data or "",
                  today=london_today())
    if item.kind == PledgeKind.MONEY:
        rows = services.record_money(**common, amount_pence=values["amount"], method=form.method.data,
                                     receipt_ref=form.receipt_ref.data, extra_as_gift=form.extra_as_gift.data)
        if len(rows) > 1:
            return _("Recorded %(amount)s and %(extra)s received (the extra as a separate gift) for pledge "
                     "%(reference)s.", amount=gbp(rows[0].amount_pence), extra=gbp(rows[1].amount_pence),
                     reference=item.reference)
        if rows[0].pledge_id != item.id:
            return _("Recorded %(amount)s received (the extra as a separate gift) for pledge %(reference)s.",
                     amount=gbp(rows[0].amount_pence), reference=item.reference)
        return _("Recorded %(amount)s received for pledge %(reference)s.", amount=gbp(rows[0].amount_pence),
                 reference=item.reference)
    if item.kind == PledgeKind.TIME:
        row = services.record_hours(**common, minutes=values["minutes"], given_by=form.given_by.data,
                                    note=form.note.data, completes=form.completes.data)
        return _("Recorded %(hours)s hours given for pledge %(reference)s.", hours=services.hours_text(row.minutes),
                 reference=item.reference)
    services.record_delivery(**common, quantity=values["quantity"], note=form.note.data,
                             completes=form.completes.data)
    return _("Recorded the delivery for pledge %(reference)s.", reference=item.reference)


@bp.route("/teams/<slug>/pledges/<int:pledge_id>/withdraw", methods=["GET", "POST"])
@signed_in
def withdraw(slug: str, pledge_id: int):
    session = get_session()
    team = team_or_404(session, slug)
    staff_here = _is_team_staff(team)
    item = services.team_pledge(session, team, pledge_id)  # NotFound answers 404
    if not staff_here and item.pledger_person_id != current_user.id:
        abort(404)
    form = WithdrawForm()
    back = url_for("pledges.pledge", slug=team.slug, pledge_id=item.id)
    if attempt(form, lambda s: services.withdraw(session=s, team=team, pledge_id=item.id, actor=current_user.person,
                                                 reason=form.reason.data, is_team_staff=staff_here),
               field_for={DomainError: "reason"}).ok:
        flash(_("Pledge %(reference)s is withdrawn. Anything already given stays recorded.", reference=item.reference), "success")
        return redirect(back)
    return render_template("pledges/simple_form.html", form=form, team=team, back=back,
                           title=_("Withdraw pledge %(reference)s", reference=item.reference))


@bp.post("/teams/<slug>/pledges/<int:pledge_id>/remind")
@team_staff
def remind(pledge_id: int, team: Team):
    if not ReminderForm().validate_on_submit():
        abort(400)
    sent = act(lambda s: services.send_reminder(session=s, team=team, pledge_id=pledge_id, actor_id=current_user.id,
                                                send=mail.send),
               done=lambda item: _("A polite reminder about pledge %(reference)s was emailed to %(name)s.",
                                   reference=item.reference, name=item.pledger_name))
    if sent and request.form.get("next_page") == "reminders":
        return redirect(url_for("pledges.reminders", slug=team.slug))
    return redirect(url_for("pledges.pledge", slug=team.slug, pledge_id=pledge_id))


@bp.get("/teams/<slug>/pledges/reminders")
@team_staff
def reminders(team: Team):
    session = get_session()
    _lapse_if_due(team)
    due = services.reminders(session=session, team=team, today=london_today())
    return render_template("pledges/reminders.html", team=team, due=due, remind_form=ReminderForm(),
                           public_name=services.public_name)


# --------------------------------------------------------------------------- community pledges


@bp.route("/teams/<slug>/community-pledges/new", methods=["GET", "POST"])
@signed_in
def new_community_pledge(slug: str):
    team = team_or_404(get_session(), slug)
    form = CommunityPledgeForm()
    done = attempt(form, lambda s: services.create_community_pledge(
        session=s, team=team, author=current_user.person, title=form.title.data, promise=form.promise.data))
    if done.ok:
        flash(_("“%(title)s” is ready for people to sign.", title=done.value.title), "success")
        return redirect(url_for("pledges.community_pledge", slug=team.slug, cp_id=done.value.id))
    return render_template("pledges/simple_form.html", form=form, team=team,
                           title=_("Start a community pledge in %(team)s", team=team.name),
                           back=url_for("pledges.wall", slug=team.slug))


def _community_pledge(session, team: Team, cp_id: int) -> CommunityPledge:
    item = session.get(CommunityPledge, cp_id)
    if item is None or item.team_id != team.id:
        abort(404)
    return item


@bp.get("/teams/<slug>/community-pledges/<int:cp_id>")
@public
def community_pledge(slug: str, cp_id: int):
    session = get_session()
    team = team_or_404(session, slug)
    item = _community_pledge(session, team, cp_id)
    mine = (services.standing_signature(session, item.id, current_user.id)
            if current_user.is_authenticated else None)
    return render_template("pledges/community_pledge.html", team=team, cp=item, mine=mine,
                           count=services.signature_count(session, item.id),
                           names=services.named_signers(session, item.id),
                           sign_form=SignForm(), unsign_form=UnsignForm())


@bp.post("/teams/<slug>/community-pledges/<int:cp_id>/sign")
@signed_in
def sign(slug: str, cp_id: int):
    session = get_session()
    team = team_or_404(session, slug)
    item = _community_pledge(session, team, cp_id)
    form = SignForm()
    if not form.validate_on_submit():
        abort(400)
    act(lambda s: services.sign(session=s, community_pledge=item, person=current_user.person,
                                anonymous=bool(form.anonymous.data)),
        done=_("Thank you for signing “%(title)s”.", title=item.title))
    return redirect(url_for("pledges.community_pledge", slug=team.slug, cp_id=item.id))


@bp.post("/teams/<slug>/community-pledges/<int:cp_id>/unsign")
@signed_in
def unsign(slug: str, cp_id: int):
    session = get_session()
    team = team_or_404(session, slug)
    item = _community_pledge(session, team, cp_id)
    if not UnsignForm().validate_on_submit():
        abort(400)
    try:
        services.withdraw_signature(session=session, community_pledge=item, person=current_user.person)
        session.commit()
    except DomainError as error:
        session.rollback()
        flash(str(error), "error")
    else:
        flash(_("Your signature is withdrawn."), "success")
    return redirect(url_for("pledges.community_pledge", slug=team.slug, cp_id=item.id))


# --------------------------------------------------------------------------- finance


@bp.route("/finance/pledges/rate", methods=["GET", "POST"])
@finance_only
def hourly_rate():
    form = RateForm()
    current = services.hourly_rate_pence(get_session())
    pence = _parse(form, "rate", parse_pence) if form.validate_on_submit() else None
    if pence is not None:
        done = attempt(form, lambda s: services.set_hourly_rate(session=s, hourly_pence=pence,
                                                                 actor=current_user.person), validate=False)
        if done.ok:
            flash(_("Time given is now valued at %(rate)s an hour (social value only, never cash).", rate=gbp(pence)),
                  "success")
            return redirect(url_for("pledges.hourly_rate"))
    if not form.rate.data:
        form.rate.data = f"{current / 100:.2f}"
    return render_template("pledges/rate.html", form=form, current=current,
                           title=_("Hourly rate for social value"))
