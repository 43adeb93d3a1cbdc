"""HTTP views of the votes domain: ideas (propose, support, review, delivery), rounds (open,
vote, review, receipt, paper ballots, results).

Pattern (as in ``ledger.views``): parse → load or 404 → ONE service call → commit → flash →
redirect; a ``VotesError``/ledger ``DomainError`` rolls back and is shown beside the form.
Rounds close on page load when their time has passed (and by ``flask votes close-due``).
"""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask import session as cookie
from flask_login import current_user
from sqlalchemy import bindparam, select
from werkzeug.exceptions import RequestEntityTooLarge

from community import images, mail
from community.auth import public, signed_in, team_or_404, team_staff
from community.cache import public_page
from community.db import (
    SAFE_METHODS,
    get_engine,
    get_session,
    open_session,
    write_transaction,
    writes_in_short_transactions,
)
from community.errors import DomainError as CommunityError
from community.errors import VotingCodeInvalid
from community.formatting import gbp
from community.forms import VotingCodeForm
from community.i18n import _, labels, lazy_gettext
from community.limits import VOTING_CODE_PER_ADDRESS, limiter
from community.models import Person, Place, Team
from community.numbers import is_ascii_digits
from community.web import act, attempt
from ledger.errors import DomainError, InsufficientFunds, InvalidAmount
from ledger.money import parse_pence
from votes import delivery as milestones
from votes import photos, ports, search, services
from votes.forms import (
    DecisionForm,
    DeliveryForm,
    DoneForm,
    IdeaForm,
    MilestoneForm,
    ReviewForm,
    RoundForm,
    StepDoneForm,
    london_instant,
)
from votes.models import BALLOT_LABELS, IDEA_CATEGORIES, RULE_LABELS, STATUS_LABELS, Idea, IdeaStatus, Round

bp = Blueprint("votes", __name__)
bp.add_app_template_global(IDEA_CATEGORIES, "idea_category_labels")  # an idea's category, by its code


@bp.app_context_processor
def _labels():
    return {"idea_status_labels": STATUS_LABELS, "rule_labels": RULE_LABELS, "ballot_labels": BALLOT_LABELS}


def _is_team_staff(team: Team) -> bool:
    return bool(current_user.is_authenticated and current_user.has_second_factor and current_user.role_in(team.id))


def _me() -> Person | None:
    return current_user.person if current_user.is_authenticated else None


def _idea(session, team: Team, idea_id: int) -> Idea:
    idea = session.get(Idea, idea_id)
    if idea is None or idea.team_id != team.id:
        abort(404)
    if idea.status == IdeaStatus.HIDDEN and not (_is_team_staff(team) or (_me() and _me().id == idea.proposer_id)):
        abort(404)
    return idea


def _round(session, team: Team, round_id: int) -> Round:
    rnd = session.get(Round, round_id)
    if rnd is None or rnd.team_id != team.id:
        abort(404)
    return _closed_if_due(session, rnd)


_TEAM_ROUND = (  # built once: every round page and every ballot starts here
    select(Team, Round).join(Round, Round.team_id == Team.id)
    .where(Team.slug == bindparam("slug"), Round.id == bindparam("round_id"))
)


def _team_round(session, slug: str, round_id: int) -> tuple[Team, Round]:
    """The team with this slug and its round, in one query, or 404 (a round of another team too)."""
    row = session.execute(_TEAM_ROUND, {"slug": slug, "round_id": round_id}).first()
    if row is None:
        abort(404)
    return row[0], _closed_if_due(session, row[1])


def _closed_if_due(session, rnd: Round) -> Round:
    if rnd.status == "open" and services.utcnow() >= rnd.closes_at:
        if request.method in SAFE_METHODS or not session.info.get("write"):
            # Close on page load, in a write session of its own (a GET's session is read-only,
            # and so is a POST's that writes in short transactions of its own).
            with open_session(get_engine(), write=True) as writer:
                services.close_if_due(session=writer, rnd=writer.get(Round, rnd.id))
                writer.commit()
            session.rollback()  # end the read snapshot taken before the close
        else:
            # A POST's session already holds the write lock (SQLite): close in it.
            services.close_if_due(session=session, rnd=rnd)
            session.commit()
        rnd = session.get(Round, rnd.id)
    return rnd


# --------------------------------------------------------------------------- ideas


@bp.get("/teams/<slug>/ideas")
@public
@public_page
def ideas(slug: str):
    """The ideas list: filtered by status and category, searched by words, paged (a plain GET form)."""
    session = get_session()
    team = team_or_404(session, slug)
    found, asked, notes = search.find_ideas_page(session=session, team=team, args=request.args)
    open_rounds = services.open_rounds_listed(session=session, team=team)
    return render_template("votes/ideas.html", team=team, found=found, asked=asked, notes=notes,
                           ideas=found.rows, open_rounds=open_rounds, is_team_staff=_is_team_staff(team),
                           categories=labels(IDEA_CATEGORIES), status_labels=labels(STATUS_LABELS),
                           statuses=search.FILTER_STATUSES,
                           can_propose=_is_team_staff(team) or services.is_resident(_me(), team))


@bp.route("/teams/<slug>/ideas/new", methods=["GET", "POST"])
@signed_in
def propose(slug: str):
    session = get_session()
    team = team_or_404(session, slug)
    form = IdeaForm()
    as_team = _is_team_staff(team)  # a member or the enabler proposes for the team (2FA, as staff pages)
    eligible = as_team or services.is_resident(_me(), team)
    done = eligible and attempt(form, lambda s: photos.with_photo(s, form.photo.data, lambda photo: services.propose_idea(
        session=s, team=team, proposer=_me(), title=form.title.data, description=form.description.data,
        estimated_cost_pence=parse_pence(form.estimated_cost.data), as_team=as_team, category=form.category.data,
        photo=photo), max_side=photos.IDEA_PHOTO_MAX_SIDE))
    if done and done.ok:
        flash(_("Thank you. Your idea was sent to the team for review."), "success")
        return redirect(url_for("votes.idea", slug=slug, idea_id=done.value.id))
    return _idea_form_page(form, team=team, eligible=eligible, as_team=as_team, idea=None,
                           title=_("Propose an idea for %(team)s", team=team.name))


def _idea_form_page(form: IdeaForm, **context):
    """The propose or change form: 400 when it shows what to correct (an over-limit photo too,
    beside its field: not for a visitor who may not propose, whose page has no field to show it by)."""
    if context.get("eligible", True):
        photos.refuse_too_large(form)
    return render_template("votes/propose.html", form=form, **context), 400 if form.errors or form.form_errors else 200


@bp.get("/teams/<slug>/ideas/<int:idea_id>")
@public
@public_page
def idea(slug: str, idea_id: int):
    session = get_session()
    team = team_or_404(session, slug)
    return render_template("votes/idea.html", **_idea_page(session, team, _idea(session, team, idea_id)))


def _idea_page(session, team: Team, item: Idea) -> dict:
    """What an idea's page shows: the idea, its support, its updates and, once funded, its
    delivery (steps, progress, money) with the team's forms for staff."""
    me, staff = _me(), _is_team_staff(team)
    spend = ports.idea_spend(session=session, idea_id=item.id)
    return dict(
        team=team, idea=item, supports=services.support_count(session=session, idea_id=item.id),
        i_support=services.supports(session=session, idea_id=item.id, person=me),
        can_support=services.is_resident(me, team) and item.status in ("proposed", "needs_changes", "feasible"),
        is_proposer=bool(me and me.id == item.proposer_id), is_team_staff=staff,
        updates=services.updates_of(session=session, idea_id=item.id), spend=spend,
        delivery=milestones.delivery_of(session=session, idea=item, paid_lines=spend),
        delivery_form=(DeliveryForm.for_status(item.status, services.DELIVERY_NEXT)
                       if staff and item.status in services.DELIVERY_NEXT else None),
        step_done_form=StepDoneForm() if staff and item.status in milestones.DELIVERING else None,
    )


@bp.post("/teams/<slug>/ideas/<int:idea_id>/support")
@signed_in
def support(slug: str, idea_id: int):
    session = get_session()
    team = team_or_404(session, slug)
    _idea(session, team, idea_id)
    withdraw = request.form.get("action") == "withdraw"
    act(lambda s: (services.unsupport if withdraw else services.support)(session=s, idea_id=idea_id, person=_me()),
        done=_("You withdrew your support.") if withdraw else _("You support this idea."))
    return redirect(url_for("votes.idea", slug=slug, idea_id=idea_id))


@bp.route("/teams/<slug>/ideas/<int:idea_id>/edit", methods=["GET", "POST"])
@signed_in
def edit_idea(slug: str, idea_id: int):
    session = get_session()
    team = team_or_404(session, slug)
    item = _idea(session, team, idea_id)
    if item.proposer_id != _me().id or item.status not in ("proposed", "needs_changes"):
        abort(404)
    form, shown = _edit_form(item), item.photo_ref
    if attempt(form, lambda s: photos.with_photo(s, form.photo.data, lambda photo: services.edit_idea(
            session=s, idea_id=item.id, person=_me(), title=form.title.data, description=form.description.data,
            estimated_cost_pence=parse_pence(form.estimated_cost.data), category=form.category.data,
            photo=photo, remove_photo=form.remove_photo.data), max_side=photos.IDEA_PHOTO_MAX_SIDE)).ok:
        photos.discard(shown if shown != item.photo_ref else None)  # the photo it no longer shows
        flash(_("Your changes were sent to the team for review."), "success")
        return redirect(url_for("votes.idea", slug=slug, idea_id=idea_id))
    return _idea_form_page(form, team=team, eligible=True, as_team=False, idea=item,
                           title=_("Change “%(title)s”", title=item.title))


def _edit_form(item: Idea) -> IdeaForm:
    """The idea form, filled in with the idea on a GET."""
    form = IdeaForm(obj=None if request.method == "POST" else item)
    if request.method == "GET":
        form.estimated_cost.data = f"{item.estimated_cost_pence / 100:.2f}"
    form.submit.label.text = _("Send changes for review")
    return form


@bp.get("/teams/<slug>/ideas/<int:idea_id>/photo")
@public
def idea_photo(slug: str, idea_id: int):
    """An idea's photo as stored (re-encoded, no metadata), as an image and nothing else; a
    hidden idea's only to whom its page shows."""
    session = get_session()
    item = _idea(session, team_or_404(session, slug), idea_id)
    return _photo(item.photo_ref, item.photo_type)


def _photo(ref: str | None, content_type: str | None):
    """A stored photo, sandboxed like a download (nothing in it may load or run), or 404."""
    path = photos.path_of(ref)
    if path is None or content_type not in images.IMAGE_TYPES:
        abort(404)
    response = send_file(path, mimetype=content_type, max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _pence_or_none(text: str | None) -> int | None:
    return parse_pence(text) if (text or "").strip() else None


def _open_round(session, team: Team, form: RoundForm) -> Round:
    """The round form's values to services.open_round (a refusal names its field)."""
    return services.open_round(
        session=session, team=team, actor_id=current_user.id, title=form.title.data,
        budget_pence=parse_pence(form.budget.data), opens_at=london_instant(form.opens_at.data, form.opens_time.data),
        closes_at=london_instant(form.closes_at.data, form.closes_time.data), idea_ids=form.ideas.data,
        ballot_type=form.ballot_type.data, rule=form.rule.data, max_choices=form.max_choices.data,
        idempotency_key=form.idempotency_key.data or "")


def _key_paper(session, rnd: Round, serial: str) -> str:
    outcome = services.key_paper_ballot(session=session, rnd_id=rnd.id, serial=serial, keyer_id=current_user.id,
                                        idea_ids=_chosen_ids())
    session.commit()
    return outcome


def _paper_page(session, team: Team, rnd: Round, error: str | None, serial: str):
    rows = services.round_ideas(session=session, round_id=rnd.id)
    return render_template("votes/paper.html", team=team, rnd=rnd, error=error, serial=serial, rows=rows,
                           titles={idea.id: idea.title for _, idea in rows},
                           status=services.paper_status(session=session, round_id=rnd.id),
                           voting_open=services.is_open_for_voting(rnd), decision_form=DecisionForm()), \
        (400 if error else 200)


@bp.route("/teams/<slug>/ideas/<int:idea_id>/review", methods=["GET", "POST"])
@team_staff
def review(team: Team, idea_id: int):
    session = get_session()
    item = _idea(session, team, idea_id)
    form = ReviewForm()
    if request.method == "GET" and item.team_cost_pence:
        form.team_cost.data = f"{item.team_cost_pence / 100:.2f}"
    beside = "team_cost" if form.decision.data == "feasible" else "note"
    if attempt(form, lambda s: services.review_idea(
            session=s, team=team, idea_id=item.id, reviewer_id=current_user.id, decision=form.decision.data,
            team_cost_pence=_pence_or_none(form.team_cost.data), note=form.note.data), field_for={DomainError: beside}).ok:
        flash(_("Review saved: %(status)s.", status=STATUS_LABELS[form.decision.data]), "success")
        return redirect(url_for("votes.idea", slug=team.slug, idea_id=item.id))
    return render_template("votes/review.html", form=form, team=team, idea=item,
                           supports=services.support_count(session=session, idea_id=item.id),
                           title=_("Review “%(title)s”", title=item.title))


@bp.post("/teams/<slug>/ideas/<int:idea_id>/delivery")
@team_staff
def delivery(team: Team, idea_id: int):
    item = _idea(get_session(), team, idea_id)
    form = DeliveryForm.for_status(item.status, services.DELIVERY_NEXT)
    if not form.validate_on_submit():
        flash(_("Choose a status and write a short update."), "error")
    else:
        act(lambda s: services.add_delivery_update(session=s, team=team, idea_id=item.id, author_id=current_user.id,
                                                   status=form.status.data, text=form.text.data),
            done=_("Update posted."))
    return redirect(url_for("votes.idea", slug=team.slug, idea_id=item.id))


# --------------------------------------------------------------------------- delivery steps (issue 17)


def _delivering(session, team: Team, idea_id: int) -> Idea:
    """One of the team's funded (in delivery, done) ideas, or 404."""
    item = _idea(session, team, idea_id)
    if item.status not in milestones.FUNDED_STATES:
        abort(404)
    return item


def _to_idea(team: Team, item_id: int):
    return redirect(url_for("votes.idea", slug=team.slug, idea_id=item_id))


def _form_page(template: str, form, **context):
    """A delivery form page: 400 when it shows what to correct (an over-limit photo too)."""
    photos.refuse_too_large(form)
    return render_template(template, form=form, **context), 400 if form.errors or form.form_errors else 200


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error):
    """A photo over the request limit: back to its form with the message beside the photo field
    (photos.PHOTO_FORMS), else a clear page; never a bare 413."""
    back = photos.back_to_form_url()
    if back is not None:
        return redirect(back)
    return render_template("errors/error.html", code=413, title=_("File too large"),
                           message=photos.REFUSALS["too_big"]), 413


@bp.route("/teams/<slug>/ideas/<int:idea_id>/steps/new", methods=["GET", "POST"])
@team_staff
def new_step(team: Team, idea_id: int):
    item = _delivering(get_session(), team, idea_id)
    form = MilestoneForm()
    done = attempt(form, lambda s: photos.with_photo(s, form.photo.data, lambda photo: milestones.add_milestone(
        session=s, team=team, idea_id=item.id, actor_id=current_user.id, title=form.title.data,
        planned_on=form.planned_on.data, note=form.note.data, done_on=form.done_on.data, photo=photo)))
    if done.ok:
        flash(_("Step added: “%(step)s”.", step=done.value.title), "success")
        return _to_idea(team, idea_id)
    return _form_page("votes/step.html", form, team=team, idea=item, step=None,
                      title=_("Add a step to “%(title)s”", title=item.title))


@bp.route("/teams/<slug>/ideas/<int:idea_id>/steps/<int:step_id>/edit", methods=["GET", "POST"])
@team_staff
def edit_step(team: Team, idea_id: int, step_id: int):
    session = get_session()
    item = _delivering(session, team, idea_id)
    step = milestones.step_of(session=session, team=team, idea_id=item.id, milestone_id=step_id) or abort(404)
    form = MilestoneForm(obj=None if request.method == "POST" else step)
    done = attempt(form, lambda s: photos.with_photo(s, form.photo.data, lambda photo: milestones.edit_milestone(
        session=s, team=team, idea_id=item.id, milestone_id=step.id, title=form.title.data,
        planned_on=form.planned_on.data, note=form.note.data, done_on=form.done_on.data, photo=photo)))
    if done.ok:
        photos.discard(done.value[1])  # the photo it no longer shows
        flash(_("Step saved: “%(step)s”.", step=done.value[0].title), "success")
        return _to_idea(team, idea_id)
    return _form_page("votes/step.html", form, team=team, idea=item, step=step, title=_("Change a step"))


@bp.post("/teams/<slug>/ideas/<int:idea_id>/steps/<int:step_id>/done")
@team_staff
def complete_step(team: Team, idea_id: int, step_id: int):
    _delivering(get_session(), team, idea_id)
    if StepDoneForm().validate_on_submit():
        act(lambda s: milestones.complete_milestone(session=s, team=team, idea_id=idea_id, milestone_id=step_id),
            done=_("Step marked done. Supporters and voters are told."))
    return _to_idea(team, idea_id)


@bp.route("/teams/<slug>/ideas/<int:idea_id>/done", methods=["GET", "POST"])
@team_staff
def mark_done(team: Team, idea_id: int):
    """Shows what goes back to the team's budget (the form sends that figure back), then marks
    the idea done and releases it: a commitment that changed meanwhile is shown again instead."""
    item = _delivering(get_session(), team, idea_id)
    form = DoneForm()
    done = attempt(form, lambda s: milestones.mark_done(
        session=s, team=team, idea_id=item.id, actor_id=current_user.id, closing_note=form.closing_note.data,
        idempotency_key=form.idempotency_key.data or "", expected_release_pence=form.release_pence))
    if done.ok:
        flash(_done_message(form.release_pence or 0), "success")
        return _to_idea(team, idea_id)
    form.ensure_key()
    leftover = _leftover(get_session(), item)
    form.release.data = str(leftover.release_pence)
    return _form_page("votes/mark_done.html", form, team=team, idea=item, leftover=leftover,
                      title=_("Mark “%(title)s” done", title=item.title))


def _leftover(session, item: Idea) -> milestones.Leftover:
    """What marking the idea done would release now, with quick spend's figures (votes.ports)."""
    return milestones.leftover_of(session=session, idea=item, paid_lines=ports.idea_spend(session=session, idea_id=item.id),
                                  waiting_pence=ports.idea_waiting(session=session, idea_id=item.id))


def _done_message(released_pence: int) -> str:
    if released_pence:
        return _("The idea is done and %(amount)s went back to the team's budget. Its supporters and voters are "
                 "told.", amount=gbp(released_pence))
    return _("The idea is done. Its supporters and voters are told.")


@bp.get("/teams/<slug>/ideas/<int:idea_id>/steps/<int:step_id>/photo")
@public
def step_photo(slug: str, idea_id: int, step_id: int):
    """A step's photo as stored (re-encoded, no metadata), as an image and nothing else."""
    session = get_session()
    step = milestones.step_of(session=session, team=team_or_404(session, slug), idea_id=idea_id, milestone_id=step_id)
    return _photo(step.photo_ref, step.photo_type) if step is not None else abort(404)


# --------------------------------------------------------------------------- rounds


@bp.get("/teams/<slug>/rounds")
@public
@public_page
def rounds(slug: str):
    session = get_session()
    team = team_or_404(session, slug)
    rows = [_closed_if_due(session, r) for r in services.rounds_of(session=session, team=team)]
    return render_template("votes/rounds.html", team=team, rounds=rows, is_team_staff=_is_team_staff(team))


@bp.route("/teams/<slug>/rounds/new", methods=["GET", "POST"])
@team_staff
def new_round(team: Team):
    session = get_session()
    feasible = list(session.execute(
        select(Idea).where(Idea.team_id == team.id, Idea.status == IdeaStatus.FEASIBLE.value).order_by(Idea.id)
    ).scalars())
    form = RoundForm()
    form.ideas.choices = [(i.id, f"{i.title} ({gbp(i.team_cost_pence)})") for i in feasible]
    done = attempt(form, lambda s: _open_round(s, team, form), field_for={InsufficientFunds: "budget", InvalidAmount: "budget"})
    if done.ok:
        flash(_opened(done.value), "success")
        return redirect(url_for("votes.round_page", slug=team.slug, round_id=done.value.id))
    form.ensure_key()
    return render_template("votes/new_round.html", form=form, team=team, feasible=feasible,
                           title=_("Open a voting round"))


def _ballot_context(session, team, rnd, chosen=(), error=None):
    me = _me()
    mine = None
    if me is not None and rnd.status == "open":
        mine = services.my_ballot(session=session, rnd=rnd, person=me, secret=current_app.config["SECRET_KEY"])
    if not chosen:  # the choices being checked (see ``_draft``), else the ballot already cast
        chosen = _draft(rnd) or (services.decode(mine.choices) if mine is not None else ())
    return dict(team=team, rnd=rnd, rows=services.round_ideas(session=session, round_id=rnd.id),
                chosen=set(chosen), error=error, mine=mine, eligible=services.is_resident(me, team),
                voting_open=services.is_open_for_voting(rnd), is_team_staff=_is_team_staff(team),
                place=session.get(Place, team.place_id))


@bp.get("/teams/<slug>/rounds/<int:round_id>")
@public
def round_page(slug: str, round_id: int):
    session = get_session()
    team, rnd = _team_round(session, slug, round_id)
    if rnd.status == "closed":
        return redirect(url_for("votes.results", slug=slug, round_id=rnd.id))
    return render_template("votes/ballot.html", **_ballot_context(session, team, rnd))


def _chosen_ids() -> list[int]:
    return [int(v) for v in request.form.getlist("idea") if is_ascii_digits(v) and len(v) < 10]


# The ideas chosen on the ballot page, kept in the (signed) session cookie between choosing them
# and casting, so that "check your vote" is a GET (post/redirect/get: Back never resubmits).
_DRAFT = "ballot_draft"


def _keep_draft(rnd: Round, chosen: list[int]) -> None:
    cookie[_DRAFT] = {"round": rnd.id, "ideas": chosen}


def _draft(rnd: Round) -> list[int] | None:
    draft = cookie.get(_DRAFT)
    if not isinstance(draft, dict) or draft.get("round") != rnd.id:
        return None
    return [i for i in draft.get("ideas", []) if isinstance(i, int)]


@bp.post("/teams/<slug>/rounds/<int:round_id>/review")
@signed_in
def review_ballot(slug: str, round_id: int):
    """Check the choices (a knapsack over budget is refused here), keep them, then show them by GET."""
    session = get_session()
    team, rnd = _team_round(session, slug, round_id)
    chosen = _chosen_ids()
    try:
        services.review_choices(session=session, rnd=rnd, person=_me(), idea_ids=chosen)
    except DomainError as error:
        return render_template("votes/ballot.html", **_ballot_context(session, team, rnd, chosen, str(error))), 400
    _keep_draft(rnd, chosen)
    return redirect(url_for("votes.check_vote", slug=slug, round_id=rnd.id))


@bp.get("/teams/<slug>/rounds/<int:round_id>/review")
@signed_in
def check_vote(slug: str, round_id: int):
    """The review page: the server computes the total of the choices kept by ``review_ballot``."""
    session = get_session()
    team, rnd = _team_round(session, slug, round_id)
    chosen = _draft(rnd)
    if chosen is None:  # nothing chosen (or already cast): the ballot
        return redirect(url_for("votes.round_page", slug=slug, round_id=rnd.id))
    try:
        checked = services.review_choices(session=session, rnd=rnd, person=_me(), idea_ids=chosen)
    except DomainError as error:
        flash(str(error), "error")
        return redirect(url_for("votes.round_page", slug=slug, round_id=rnd.id))
    return render_template("votes/review_ballot.html", team=team, rnd=rnd, checked=checked)


@bp.post("/teams/<slug>/rounds/<int:round_id>/ballot")
@signed_in
@writes_in_short_transactions
def cast(slug: str, round_id: int):
    """The request session only reads; the ballot is written in a transaction of its own, so on
    SQLite the write lock is held for the upsert alone (a whole place may vote in one evening)."""
    session = get_session()
    team, rnd = _team_round(session, slug, round_id)
    if request.form.get("action") == "change":  # from an older review page: back to the ballot
        _keep_draft(rnd, _chosen_ids())
        return redirect(url_for("votes.round_page", slug=slug, round_id=rnd.id))
    try:
        _cast_with_receipt(session, team, rnd)
    except DomainError as error:
        session.rollback()
        return render_template("votes/ballot.html",
                               **_ballot_context(session, team, rnd, _chosen_ids(), str(error))), 400
    cookie.pop(_DRAFT, None)  # the vote is cast: the session no longer holds the choices
    # No flash: the receipt page is the confirmation ("Your vote is recorded" and its reference).
    return redirect(url_for("votes.receipt", slug=slug, round_id=rnd.id))


def _cast_with_receipt(session, team: Team, rnd: Round) -> None:
    """Cast the signed-in resident's ballot and queue its receipt, in one short write transaction.

    Everything but the two inserts happens before the write lock is taken: the checks (in the
    request session, whose read transaction then ends) and the receipt email, built for the
    reference a first ballot gets (rebuilt, under the lock, only when a replaced ballot keeps
    its own). On SQLite the lock is then held for BEGIN IMMEDIATE, the upsert, the insert into
    the outbox and COMMIT alone, and no read transaction of this request keeps the WAL from
    being checkpointed."""
    me = _me()
    planned = services.plan_ballot(session=session, rnd_id=rnd.id, person=me,
                                   secret=current_app.config["SECRET_KEY"], idea_ids=_chosen_ids())
    session.commit()  # only ends the read transaction: nothing was written, nothing is expired
    link = url_for("votes.receipt", slug=team.slug, round_id=rnd.id, _external=True)
    subject = _("Your vote in %(round)s", round=rnd.title)
    body = services.receipt_email(session=session, rnd=rnd, team=team, ballot=planned, link=link)
    with write_transaction(get_engine()) as writer:  # commits at the end of the block
        ballot = services.write_ballot(writer=writer, planned=planned)
        if ballot.reference != planned.reference:  # a replaced ballot: its receipt keeps its reference
            body = services.receipt_email(session=session, rnd=rnd, team=team, ballot=ballot, link=link)
        mail.send(to=me.email, subject=subject, body=body, session=writer)


# --------------------------------------------------------------------------- vote with a code


def _refused(response) -> bool:
    """Only refused attempts count towards the code page's limit: at a Local Net one computer
    (one address) serves resident after resident, each with a good code."""
    return response.status_code >= 400


@bp.route("/vote-with-a-code", methods=["GET", "POST"])
@public
@limiter.limit(VOTING_CODE_PER_ADDRESS, methods=["POST"], deduct_when=_refused)
@writes_in_short_transactions
def vote_with_code():
    """A resident signed up without email votes with the one-time code on their slip: the code,
    then the ballot of their place's open round, then the receipt (shown once, never cached)."""
    form = VotingCodeForm()
    if not form.validate_on_submit():
        return render_template("votes/code_start.html", form=form), 400 if form.errors else 200
    try:
        if request.form.get("action") == "cast":
            return _cast_with_code(form.code.data)
        return _code_ballot(form.code.data)
    except (DomainError, CommunityError) as error:
        get_session().rollback()
        return _code_refused(form, error)


def _code_refused(form: VotingCodeForm, error: Exception):
    """A ballot the round refuses goes back to the ballot with the message (the code is not
    spent); a bad code, or no open round, goes back to the code with the message beside it."""
    if request.form.get("action") == "cast" and not isinstance(error, VotingCodeInvalid):
        try:
            return _code_ballot(form.code.data, str(error))
        except (DomainError, CommunityError) as again:
            error = again
    form.code.errors = [*form.code.errors, str(error)]
    return render_template("votes/code_start.html", form=form), 400


def _code_ballot(code: str, error: str | None = None):
    ballot = services.ballot_for_code(session=get_session(), secret=current_app.config["SECRET_KEY"], code=code)
    page = render_template("votes/code_ballot.html", ballot=ballot, code=code, error=error,
                           chosen=set(_chosen_ids()) if error else set())
    return _no_store(page, 400 if error else 200)


def _cast_with_code(code: str):
    session = get_session()
    with open_session(get_engine(), write=True) as writer:
        ballot = services.cast_ballot_with_code(session=session, writer=writer, rnd_id=_round_id(), code=code,
                                                secret=current_app.config["SECRET_KEY"], idea_ids=_chosen_ids())
        writer.commit()
    rnd = session.get(Round, ballot.round_id)
    lines = services.chosen_titles(session=session, rnd=rnd, idea_ids=services.decode(ballot.choices))
    return _no_store(render_template("votes/code_done.html", rnd=rnd, team=session.get(Team, rnd.team_id),
                                     ballot=ballot, lines=lines), 200)


def _round_id() -> int:
    value = request.form.get("round", "")
    return int(value) if value.isdigit() and len(value) < 10 else 0


def _no_store(page: str, status: int):
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/teams/<slug>/rounds/<int:round_id>/receipt")
@signed_in
def receipt(slug: str, round_id: int):
    session = get_session()
    team, rnd = _team_round(session, slug, round_id)
    mine = services.my_ballot(session=session, rnd=rnd, person=_me(), secret=current_app.config["SECRET_KEY"])
    if mine is None:
        abort(404)
    rows = [r for r in services.round_ideas(session=session, round_id=rnd.id)
            if r[1].id in set(services.decode(mine.choices))]
    return render_template("votes/receipt.html", team=team, rnd=rnd, ballot=mine, rows=rows,
                           total=sum(ri.cost_pence for ri, _ in rows))


@bp.get("/teams/<slug>/rounds/<int:round_id>/results")
@public
@public_page
def results(slug: str, round_id: int):
    session = get_session()
    team, rnd = _team_round(session, slug, round_id)
    if rnd.status != "closed":
        return redirect(url_for("votes.round_page", slug=slug, round_id=rnd.id))
    rows = services.results(session=session, rnd=rnd)
    return render_template("votes/results.html", team=team, rnd=rnd, rows=rows,
                           turnout=services.turnout(session=session, round_id=rnd.id),
                           tie_break=services.TIE_BREAK_TEXT,
                           progress=milestones.progress(session=session, idea_ids=[i.id for ri, i in rows if ri.funded]))


def _opened(rnd) -> str:
    return _("Round “%(title)s” is open; %(budget)s is held on the team's ledger.", title=rnd.title,
             budget=gbp(rnd.budget_pence))


_PAPER_OUTCOMES = {
    "waiting": (lazy_gettext("Keyed. A different team member must now key the same ballot again."), "success"),
    "counted": (lazy_gettext("Both keyings match: the ballot counts."), "success"),
    "spoilt": (lazy_gettext("Both keyings match, but the ballot breaks the round's rules: it is recorded as spoilt "
                            "(it counts in turnout, not in the votes)."), "error"),
    "mismatch": (lazy_gettext("The two keyings differ: the ballot is listed below for a decision."), "error"),
}


@bp.route("/teams/<slug>/rounds/<int:round_id>/paper", methods=["GET", "POST"])
@team_staff
def paper(team: Team, round_id: int):
    session = get_session()
    rnd = _round(session, team, round_id)
    serial = request.form.get("serial", "")[:40] if request.method == "POST" else ""
    error = None
    if request.method == "POST":
        try:
            outcome = _key_paper(session, rnd, serial)
        except DomainError as refused:
            session.rollback()
            error = str(refused)
        else:
            flash(*map(str, _PAPER_OUTCOMES[outcome]))
            return redirect(url_for("votes.paper", slug=team.slug, round_id=rnd.id))
    return _paper_page(session, team, rnd, error, serial)


@bp.post("/teams/<slug>/rounds/<int:round_id>/paper/decide")
@team_staff
def paper_decide(team: Team, round_id: int):
    rnd = _round(get_session(), team, round_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        flash(_("Choose a decision and give the reason."), "error")
    else:
        act(lambda s: services.decide_mismatch(
            session=s, rnd_id=rnd.id, serial=request.form.get("serial", "")[:40], decider_id=current_user.id,
            accept_pass=int(form.accept.data) if form.accept.data in ("1", "2") else None, reason=form.reason.data),
            done=_("Decision recorded."))
    return redirect(url_for("votes.paper", slug=team.slug, round_id=rnd.id))
