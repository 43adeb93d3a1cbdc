"""Public pages, sign-up, sign-in with two-factor, account, and the admin pages."""

import base64
import io
import secrets
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie
from flask_login import current_user, login_user, logout_user
from sqlalchemy import text
from sqlmodel import select

from community import mail, next_steps, notify, numbers, services, signin, team_sections
from community.auth import (
    CurrentUser,
    admin_only,
    development_only,
    load_roles,
    public,
    signed_in,
    staff,
    team_staff,
)
from community.cache import public_page
from community.db import get_session
from community.errors import (
    ConfirmLinkInvalid,
    DomainError,
    EmailNotConfirmed,
    ResetLinkInvalid,
    UnsubscribeLinkInvalid,
)
from community.forms import (
    AcceptInvitationForm,
    AssistedSignUpForm,
    ChangePasswordForm,
    CodeForm,
    ConfirmEmailForm,
    ForgotPasswordForm,
    InviteForm,
    LanguageForm,
    PlaceForm,
    PostcodeForm,
    ReconfirmForm,
    ResendConfirmationForm,
    ResetPasswordForm,
    ResetSecondFactorForm,
    RevokeForm,
    RoleForm,
    SignInForm,
    SignUpForm,
    TeamForm,
    notifications_form,
)
from community.i18n import _, force_locale, lazy_gettext
from community.limits import (
    CODE_PER_ADDRESS,
    CONFIRM_RESEND_PER_ADDRESS,
    RESET_PER_ACCOUNT,
    RESET_PER_ADDRESS,
    SIGN_IN_PER_ACCOUNT,
    SIGN_IN_PER_ADDRESS,
    SIGN_UP_PER_ADDRESS,
    account_key,
    limiter,
)
from community.models import Person, Place, Team
from community.security import csrf
from community.web import act, attempt, show_error

bp = Blueprint("community", __name__)


def _safe_next(default: str) -> str:
    return signin.safe_next(request.args.get("next"), default)


def _landing() -> str:
    """The signed-in person's next step (community/next_steps.py)."""
    return next_steps.landing_url(get_session(), current_user)


@bp.get("/")
@public
@public_page
def home():
    return render_template("community/home.html", teams=services.list_teams(get_session()))


@bp.get("/teams/<slug>")
@public
@public_page
def team(slug: str):
    session = get_session()
    try:
        summary = services.get_team(session, slug=slug)
    except DomainError:
        abort(404)
    members = services.list_team_members(session, team_id=summary.team.id)
    return render_template("community/team.html", summary=summary, members=members,
                           nudges=next_steps.nudges(session, current_user, summary.team),
                           sections=team_sections.sections(session, summary.team))


@bp.app_errorhandler(EmailNotConfirmed)
def email_not_confirmed(error: EmailNotConfirmed):
    """Any domain's vote, support, idea, pledge or signature refused until the address is
    confirmed: one clear page with "Resend the confirmation email", nothing written."""
    get_session().rollback()
    return render_template("community/confirm_first.html", message=error.message), 403


@bp.route("/teams/<slug>/assisted-sign-up", methods=["GET", "POST"])
@team_staff
def assisted_sign_up(team: Team):
    """A member or enabler signs up a resident without email at a Local Net: the form, then
    what it will do (nothing written), then the printable slip with the one-time voting code."""
    form = AssistedSignUpForm()
    form.request_key.data = form.request_key.data or secrets.token_urlsafe(24)
    if not form.validate_on_submit():
        return render_template("community/assisted_sign_up.html", form=form, team=team)
    try:
        return _assisted_step(form, team)
    except DomainError as error:
        show_error(form, error)
        return render_template("community/assisted_sign_up.html", form=form, team=team), 400


def _assisted_step(form: AssistedSignUpForm, team: Team):
    """"Continue" shows the check page; "Sign them up" makes the account and shows the slip,
    once (never cached, the code is not stored anywhere we could show it again)."""
    session = get_session()
    details = dict(session=session, actor=current_user.person, team_id=team.id, name=form.name.data,
                   postcode=form.postcode.data, phone=form.phone.data)
    if request.form.get("action") != "confirm":
        checked = services.check_assisted_sign_up(**details)
        return render_template("community/assisted_check.html", form=form, team=team, checked=checked)
    printed = services.assisted_sign_up(**details, secret=current_app.config["SECRET_KEY"],
                                        request_key=form.request_key.data)
    session.commit()
    response = make_response(render_template("community/voting_slip.html", team=team, printed=printed,
                                             vote_url=url_for("votes.vote_with_code", _external=True)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
@public
def healthz():
    try:
        get_session().exec(text("SELECT 1")).one()
    except Exception:  # noqa: BLE001 - any failure means the database is not reachable
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="reachable")


def _signed_out(view):
    """A page for people who are not signed in: a signed-in person goes to their home instead."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user.is_authenticated:
            return redirect(_landing())
        return view(*args, **kwargs)

    return wrapper


@bp.route("/sign-up", methods=["GET", "POST"])
@public
@_signed_out
@limiter.limit(SIGN_UP_PER_ADDRESS, methods=["POST"])
def sign_up():
    """Answers the same whether or not the email has an account (issue 14, finding 8): both go
    to "check your email", and nobody is signed in here (that would tell the two apart)."""
    form = SignUpForm()
    if attempt(form, lambda s: services.request_sign_up(
            session=s, name=form.name.data, email=form.email.data, password=form.password.data,
            postcode=form.postcode.data, sign_in_link=url_for("community.sign_in", _external=True),
            reset_link=url_for("community.forgot_password", _external=True), confirm_link=_confirm_link)).ok:
        return redirect(url_for("community.sign_up_done"))
    return render_template("community/sign_up.html", form=form)


def _confirm_link(token: str) -> str:
    return url_for("community.confirm_email", token=token, _external=True)


_LINK_TITLE = {"unknown": lazy_gettext("This link is not valid"), "used": lazy_gettext("This link has been used"),
               "expired": lazy_gettext("This link has expired")}


def _confirm_link_page(error: ConfirmLinkInvalid):
    get_session().rollback()
    return render_template("community/confirm_link_invalid.html", title=_LINK_TITLE[error.reason],
                           message=error.message), _RESET_LINK_STATUS[error.reason]


@bp.route("/confirm-email/<token>", methods=["GET", "POST"])
@public
@limiter.limit(CODE_PER_ADDRESS, methods=["POST"])
def confirm_email(token: str):
    """Confirm an email address through the sign-up link, with the account's password (so that
    the owner of an address cannot be led to confirm an account someone else made with it)."""
    session = get_session()
    try:
        row = services.check_email_confirmation(session=session, token=token)
    except ConfirmLinkInvalid as error:
        return _confirm_link_page(error)
    person = session.get(Person, row.person_id)
    form = ConfirmEmailForm()
    done = attempt(form, lambda s: services.confirm_email(session=s, token=token, password=form.password.data))
    if isinstance(done.error, ConfirmLinkInvalid):
        return _confirm_link_page(done.error)
    if not done.ok:
        return render_template("community/confirm_email.html", form=form, email=person.email)
    flash(_("Your email address is confirmed. You can now vote, support ideas, pledge and sign."), "success")
    signed_in_here = current_user.is_authenticated and current_user.id == person.id
    return redirect(url_for("community.account" if signed_in_here else "community.sign_in"))


@bp.post("/account/confirm-email/resend")
@signed_in
@limiter.limit(CONFIRM_RESEND_PER_ADDRESS)
def resend_confirmation():
    form = ResendConfirmationForm()
    if not form.validate_on_submit():
        abort(400)
    session = get_session()
    sent = services.request_email_confirmation(session=session, person=current_user.person, link=_confirm_link)
    session.commit()
    if sent:
        flash(_("We sent a new confirmation link to %(email)s. It works for %(days)s days.",
                email=current_user.person.email, days=services.CONFIRM_DAYS), "success")
    elif current_user.person.email_confirmed_at is not None:
        flash(_("Your email address is already confirmed."), "info")
    else:
        flash(_("We have sent you several links in the last 30 minutes: check your inbox (and spam folder), "
              "or try again later."), "info")
    return redirect(url_for("community.account"))


@bp.get("/sign-up/done")
@public
def sign_up_done():
    return render_template("community/check_email.html", title=_("Check your email"), sign_up=True)


@bp.route("/forgot-password", methods=["GET", "POST"])
@public
@limiter.limit(RESET_PER_ADDRESS, methods=["POST"])
@limiter.limit(RESET_PER_ACCOUNT, methods=["POST"], key_func=account_key)
def forgot_password():
    """The same answer whether or not the email has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        session = get_session()
        services.request_password_reset(
            session=session, email=form.email.data,
            link=lambda token: url_for("community.reset_password", token=token, _external=True))
        session.commit()
        return redirect(url_for("community.forgot_password_done"))
    return render_template("community/forgot_password.html", form=form)


@bp.get("/forgot-password/done")
@public
def forgot_password_done():
    return render_template("community/check_email.html", title=_("Check your email"), sign_up=False,
                           minutes=services.RESET_MINUTES)


_RESET_LINK_STATUS = {"unknown": 404, "used": 410, "expired": 410}


def _reset_link_page(error: ResetLinkInvalid):
    get_session().rollback()
    return render_template("community/reset_link_invalid.html", title=_LINK_TITLE[error.reason],
                           message=error.message), _RESET_LINK_STATUS[error.reason]


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    """Choose a new password through an emailed link. It signs nobody in: every session of the
    person ends, and the next sign-in asks for the second factor as always."""
    try:
        services.check_password_reset(session=get_session(), token=token)
    except ResetLinkInvalid as error:
        return _reset_link_page(error)
    form = ResetPasswordForm()
    done = attempt(form, lambda s: services.reset_password(session=s, token=token, password=form.password.data))
    if isinstance(done.error, ResetLinkInvalid):
        return _reset_link_page(done.error)
    if not done.ok:
        return render_template("community/reset_password.html", form=form)
    logout_user()
    cookie.clear()  # any half-finished sign-in here ends too
    flash(_("Your password has been changed and you have been signed out everywhere. "
            "Sign in with your new password."), "success")
    return redirect(url_for("community.sign_in"))


def _log_in(person: Person, token: str, *, second_factor: bool) -> None:
    cookie.clear()  # a fresh session on sign-in: nothing from before carries over
    cookie.permanent = True
    session = get_session()
    from sqlmodel import select

    from community.auth import token_hash
    from community.models import AuthSession

    auth = session.exec(select(AuthSession).where(AuthSession.token_hash == token_hash(token))).one()
    login_user(CurrentUser(person, auth, token, load_roles(session, person.id)), fresh=True)


def _password_step(session, email: str, password: str):
    """The password (first) step: the person and, when no second factor is needed, their new
    session's token; otherwise ``None`` (the code or the set-up comes next)."""
    person = services.authenticate(session, email=email, password=password)
    second = services.needs_second_factor(session, person=person)
    return person, None if second else services.start_session(session, person=person, second_factor=False)


def _code_step(session, person, code: str):
    """The second step: the recovery codes left (if one was used) and the session's token."""
    left = services.pass_second_factor(session=session, person=person, code=code)
    return left, services.start_session(session, person=person, second_factor=True)


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(SIGN_IN_PER_ADDRESS, methods=["POST"])
@limiter.limit(SIGN_IN_PER_ACCOUNT, methods=["POST"], key_func=account_key)
def sign_in():
    form = SignInForm()
    if request.method == "POST":
        signin.clear()  # a new attempt: any half-finished sign-in before it is gone
    done = attempt(form, lambda s: _password_step(s, form.email.data, form.password.data))
    if not done.ok:
        return render_template("community/sign_in.html", form=form)
    person, token = done.value
    if token:
        _log_in(person, token, second_factor=False)
        return redirect(_safe_next(_landing()))
    if signin.begin(person, next_url=request.args.get("next")) is signin.State.PENDING_CODE:
        return redirect(url_for("community.sign_in_code"))
    return redirect(url_for("community.two_factor_setup"))


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
@limiter.limit(CODE_PER_ADDRESS, methods=["POST"])
def sign_in_code():
    person = signin.pending_person(signin.State.PENDING_CODE)
    if person is None or not person.totp_secret:
        flash(_("Sign in again."), "info")
        return redirect(url_for("community.sign_in"))
    form = CodeForm()
    done = attempt(form, lambda s: _code_step(s, person, form.code.data))
    if not done.ok:
        return render_template("community/sign_in_code.html", form=form)
    left, token = done.value
    target = signin.next_url("")
    _log_in(person, token, second_factor=True)
    if left is not None:
        _recovery_code_used(left)
    return redirect(target or _landing())


def _qr_svg(uri: str) -> str:
    import qrcode  # only the enrolment page draws a QR code (start-up, issue 18)
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _not_enrolling(state):
    """Where someone goes who may not enrol a second factor now."""
    if state is signin.State.PENDING_CODE:
        # A password alone never reaches enrolment for someone who has a second factor: it
        # would replace it and sign them in. They go on to the code step.
        return redirect(url_for("community.sign_in_code"))
    if state is signin.State.SIGNED_IN:
        flash(_("You already have two-factor authentication set up. To change it, use "
                "“Replace your authenticator app”."), "info")
        return redirect(url_for("community.account"))
    return redirect(url_for("community.sign_in"))


def _enrol(session, person: Person, state, secret: str, code: str):
    """Check ``code`` against the new ``secret`` and store it: (person, recovery codes, token of
    the session it starts, or None when it replaces a second factor in a signed-in session)."""
    if state is signin.State.REPLACING:
        codes = services.replace_second_factor(session=session, person=person, auth_session=current_user.auth_session,
                                               secret=secret, code=code, replace_minutes=signin.REPLACE_MINUTES)
        return person, codes, None
    codes = services.enrol_second_factor(session=session, person=person, secret=secret, code=code)
    token = services.start_session(session, person=person, second_factor=True)
    if current_user.is_authenticated:
        services.end_session(session, token=current_user.token)
    return person, codes, token


def _enrolled(person: Person, codes, token: str | None, *, replaced: bool):
    """After enrolment: sign in (or forget the replacement's secret) and show the recovery codes
    once, in this answer (they are stored only as digests)."""
    target = signin.next_url(_safe_next(url_for("community.account")))
    if token is not None:
        _log_in(person, token, second_factor=True)
    else:
        signin.forget_enrol_secret()
    return render_template("community/recovery_codes.html", codes=codes, target=target, replaced=replaced)


@bp.route("/two-factor/setup", methods=["GET", "POST"])
@public
@limiter.limit(CODE_PER_ADDRESS, methods=["POST"])
def two_factor_setup():
    """Enrolment answers only in the states ``signin.enrolment_person`` allows: a pending sign-in
    with no second factor yet, a signed-in person without one, or REPLACING."""
    person, state = signin.enrolment_person()
    if person is None:
        return _not_enrolling(state)
    secret = signin.enrol_secret(services.new_totp_secret)
    form = CodeForm()
    done = attempt(form, lambda s: _enrol(s, s.get(Person, person.id), state, secret, form.code.data))
    if done.ok:
        return _enrolled(*done.value, replaced=state is signin.State.REPLACING)
    uri = services.totp_uri(email=person.email, secret=secret)
    return render_template("community/two_factor_setup.html", form=form, secret=secret, qr=_qr_svg(uri),
                           replacing=state is signin.State.REPLACING)


def _recovery_code_used(left: int) -> None:
    if left <= services.RECOVERY_FEW:
        flash(_("You signed in with a recovery code. You have %(left)s left: make new ones now with "
                "“Replace your authenticator app” on your account page.", left=left), "warning")
    else:
        flash(_("You signed in with a recovery code. You have %(left)s left.", left=left), "info")


@bp.route("/account/two-factor/replace", methods=["GET", "POST"])
@signed_in
@limiter.limit(CODE_PER_ADDRESS, methods=["POST"])
def replace_two_factor():
    """Replacing a second factor starts here: password and current code again, then within
    ``signin.REPLACE_MINUTES`` the enrolment page takes a new secret."""
    if not (current_user.has_second_factor and current_user.person.totp_secret):
        flash(_("You do not have two-factor authentication to replace."), "info")
        return redirect(url_for("community.account"))
    form = ReconfirmForm()
    if attempt(form, lambda s: services.reconfirm_identity(
            session=s, person=s.get(Person, current_user.id), auth_session=current_user.auth_session,
            password=form.password.data, code=form.code.data)).ok:
        signin.forget_enrol_secret()
        return redirect(url_for("community.two_factor_setup"))
    return render_template("community/replace_two_factor.html", form=form, minutes=signin.REPLACE_MINUTES)


@bp.post("/sign-out")
@signed_in
def sign_out():
    session = get_session()
    services.end_session(session, token=current_user.token)
    session.commit()
    logout_user()
    cookie.clear()
    flash(_("You have signed out."), "success")
    return redirect(url_for("community.home"))


@bp.get("/account")
@signed_in
def account():
    session = get_session()
    place = None
    if current_user.person.place_id:
        from community.models import Place

        place = session.get(Place, current_user.person.place_id)
    teams = {s.team.id: s for s in services.list_teams(session)}
    return render_template("community/account.html", place=place, teams=teams,
                           notifications=_notifications_form(session, current_user.person))


def _notifications_form(session, person: Person):
    channels = [(c, notify.CHANNEL_LABELS[c]) for c in notify.channels_for(person)]
    return notifications_form({k: kind.label for k, kind in notify.KINDS.items()}, channels,
                              notify.preferences(session=session, person=person), phone=person.phone)


@bp.post("/account/notifications")
@signed_in
def notifications():
    session = get_session()
    person = session.get(Person, current_user.id)
    form = _notifications_form(session, person)
    done = attempt(form, lambda s: notify.set_preferences(
        session=s, person=person, choices={kind: form[kind].data for kind in notify.KINDS},
        phone=form.phone.data or ""))
    if done.ok:
        flash(_("Your choices of what you are told about are saved."), "success")
        return redirect(url_for("community.account") + "#notifications")
    return render_template("community/notifications.html", form=form), 400


@bp.route("/account/language", methods=["GET", "POST"])
@signed_in
def change_language():
    """The account page's "Language" row, and the language switch of every page (its buttons
    post here with ``next``, the page they were on): saved, then back there (PRG)."""
    form = LanguageForm(language=current_user.person.language)
    if form.validate_on_submit():
        session = get_session()
        services.set_language(session=session, person=session.get(Person, current_user.id), language=form.language.data)
        session.commit()
        with force_locale(form.language.data):
            flash(_("Your language is saved."), "success")
        return redirect(signin.safe_next(form.next.data, url_for("community.account")))
    return render_template("community/change_language.html", form=form), 400 if form.is_submitted() else 200


# RFC 8058 one-click unsubscribe: a mail client POSTs "List-Unsubscribe=One-Click" to this URL
# with no cookie and no CSRF token, so this one route is exempt from CSRF. That is safe: the
# signed token in the URL is itself the proof (a forger would need it), and the most it can do
# is turn off one kind of email for the one person it names.
@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf.exempt
def unsubscribe(token: str):
    session = get_session()
    action = notify.unsubscribe if request.method == "POST" else notify.check_unsubscribe
    try:
        found = action(session=session, secret=current_app.config["SECRET_KEY"], token=token)
        session.commit()
    except UnsubscribeLinkInvalid as error:
        session.rollback()
        code = 410 if error.expired else 400
        return render_template("errors/error.html", code=code, title=_("Unsubscribe link not valid"),
                               message=error.message), code
    return render_template("community/unsubscribe.html", found=found, done=request.method == "POST")


@bp.route("/account/postcode", methods=["GET", "POST"])
@signed_in
def change_postcode():
    form = PostcodeForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            place = services.change_postcode(session, person=session.get(Person, current_user.id),
                                             postcode=form.postcode.data)
            session.commit()
        except DomainError as error:
            show_error(form, error)
        else:
            where = _("your place is now %(place)s", place=place.name) if place else (
                _("it is outside the places Connected Teams work in, so you have no local team"))
            flash(_("Your home postcode is saved: %(where)s.", where=where), "success")
            return redirect(url_for("community.account"))
    return render_template("community/change_postcode.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        session = get_session()
        person = session.get(Person, current_user.id)
        try:
            services.change_password(session, person=person, current=form.current_password.data,
                                     new=form.new_password.data, token=current_user.token)
            session.commit()
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Your password has changed. You were signed out everywhere else."), "success")
            return redirect(url_for("community.account"))
    return render_template("community/change_password.html", form=form)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    try:
        invitation = services.get_invitation(get_session(), token=token)
    except DomainError as error:
        return render_template("errors/error.html", code=404, title=_("Invitation not valid"),
                               message=error.message), 404
    form = AcceptInvitationForm()
    done = attempt(form, lambda s: services.accept_invitation(s, token=token, name=form.name.data,
                                                              password=form.password.data))
    if done.ok:
        step = signin.begin(done.value)
        flash(_("Welcome. Now set up two-factor authentication."), "success")
        return redirect(url_for("community.sign_in_code" if step is signin.State.PENDING_CODE
                                else "community.two_factor_setup"))
    return render_template("community/accept_invitation.html", form=form, invitation=invitation, role=_role(invitation))


def _role(invitation) -> str:
    return services.describe_role(session=get_session(), role=invitation.role, team_id=invitation.team_id)


# ---- admin -----------------------------------------------------------------------------


def _team_choices(session):
    return [(0, "No team")] + [(s.team.id, s.team.name) for s in services.list_teams(session)]


@bp.get("/admin")
@admin_only
def admin_home():
    """The teams, and the people (searched by name or email with ``?q=``, a page at a time)."""
    session = get_session()
    people = services.search_people(session=session, query=request.args.get("q", "")[:100],
                                    page=numbers.query_int(request.args, "page", 1))
    return render_template("community/admin_home.html", teams=services.list_teams(session), people=people,
                           pagination=_pages(people))


def _pages(people: services.PeoplePage) -> dict | None:
    """The GOV.UK pagination of the people list (links keep the search)."""
    if people.pages < 2:
        return None

    def href(n: int) -> str:
        return url_for("community.admin_home", q=people.query or None, page=n)

    pagination = {"items": [{"number": n, "current": n == people.page, "href": href(n)}
                            for n in range(1, people.pages + 1)]}
    if people.page > 1:
        pagination["previous"] = {"href": href(people.page - 1)}
    if people.page < people.pages:
        pagination["next"] = {"href": href(people.page + 1)}
    return pagination


@bp.route("/admin/teams/new", methods=["GET", "POST"])
@admin_only
def admin_new_team():
    session = get_session()
    form = TeamForm()
    form.place_id.choices = [(p.id, p.name) for p in session.exec(select(Place).order_by(Place.name))]
    if attempt(form, lambda s: services.create_team(s, actor_id=current_user.id, name=form.name.data,
                                                    slug=form.slug.data, place_id=form.place_id.data,
                                                    cost_centre=form.cost_centre.data)).ok:
        flash(_("Team created."), "success")
        return redirect(url_for("community.admin_home"))
    return render_template("community/admin_form.html", form=form, title=_("Create a team"))


@bp.route("/admin/places/new", methods=["GET", "POST"])
@admin_only
def admin_new_place():
    form = PlaceForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            services.create_place(session, actor_id=current_user.id, name=form.name.data,
                                  slug=form.slug.data, district=form.district.data,
                                  outward_codes=form.districts.data.split(","))
            session.commit()
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Place created."), "success")
            return redirect(url_for("community.admin_home"))
    return render_template("community/admin_form.html", form=form, title=_("Create a place"))


@bp.route("/admin/invite", methods=["GET", "POST"])
@admin_only
def admin_invite():
    form = InviteForm()
    form.team_id.choices = _team_choices(get_session())
    done = attempt(form, lambda s: services.send_invitation(
        session=s, actor=current_user.person, email=form.email.data, role=form.role.data,
        team_id=form.team_id.data or None, email_language=form.email_language.data,
        link=lambda token: url_for("community.accept_invitation", token=token, _external=True)))
    if done.ok:
        flash(_("Invitation sent to %(email)s, as %(what)s.", email=form.email.data, what=done.value), "success")
        return redirect(url_for("community.admin_home"))
    return render_template("community/admin_form.html", form=form, title=_("Invite staff"))


@bp.route("/admin/people/<int:person_id>/roles", methods=["GET", "POST"])
@admin_only
def admin_roles(person_id: int):
    session = get_session()
    person = session.get(Person, person_id) or abort(404)
    form = RoleForm()
    form.team_id.choices = _team_choices(session)
    if form.validate_on_submit():
        try:
            services.grant_role(session, actor_id=current_user.id, person_id=person_id,
                                role=form.role.data, team_id=form.team_id.data or None)
            session.commit()
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("%(name)s now has that role.", name=person.name), "success")
            return redirect(url_for("community.admin_home"))
    return render_template("community/admin_form.html", form=form, title=_("Give %(name)s a role", name=person.name))


def _role_args() -> tuple[str, int | None]:
    """The role and team named in the query (the confirmation page) or the form (its POST)."""
    role, team = (request.values.get("role") or "")[:10], (request.values.get("team_id") or "")[:12]
    return role, int(team) if numbers.is_ascii_digits(team) else None


@bp.route("/admin/people/<int:person_id>/roles/remove", methods=["GET", "POST"])
@admin_only
def admin_remove_role(person_id: int):
    """GET says whose role in which team is about to go (nothing changes); the POST removes it."""
    session = get_session()
    role, team_id = _role_args()
    try:
        removal = services.role_removal(session=session, actor_id=current_user.id, person_id=person_id, role=role,
                                        team_id=team_id)
        if request.method == "GET":
            return render_template("community/admin_remove_role.html", removal=removal, form=RevokeForm())
        services.revoke_role(session, actor_id=current_user.id, person_id=person_id, role=role, team_id=team_id)
        session.commit()
    except DomainError as error:
        session.rollback()
        flash(error.message, "error")
    else:
        flash(removal.removed, "success")
    return redirect(url_for("community.admin_home"))


@bp.route("/admin/people/<int:person_id>/two-factor/reset", methods=["GET", "POST"])
@admin_only
def admin_reset_second_factor(person_id: int):
    """Shows whose second factor goes and what follows before anything changes."""
    session = get_session()
    person = session.get(Person, person_id) or abort(404)
    form = ResetSecondFactorForm()
    if form.validate_on_submit():
        act(lambda s: services.reset_second_factor(session=s, actor_id=current_user.id, person_id=person_id),
            done=_("%(name)s's second factor was reset; they have been emailed.", name=person.name))
        return redirect(url_for("community.admin_home"))
    codes_left = services.recovery_codes_left(session=session, person_id=person.id)
    return render_template("community/admin_reset_two_factor.html", form=form, person=person,
                           codes_left=codes_left)


@bp.get("/dev/outbox")
@development_only  # admins only, and never in production
def dev_outbox():
    return render_template("community/outbox.html", messages=mail.recent(get_session()),
                           max_attempts=current_app.config["MAIL_MAX_ATTEMPTS"])


@bp.get("/staff")
@staff
def staff_home():
    session = get_session()
    teams = {team.id: team for team in next_steps.my_teams(session, current_user)}
    return render_template("community/staff_home.html", teams=teams,
                           todo=next_steps.todo(session, current_user))
