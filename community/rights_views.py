"""The privacy notice, the accessibility statement, the cookies page, "Download my data" and "Delete my account" (community/rights.py).

A blueprint of its own (``rights``) beside ``community.views``, registered in ``create_app``.
"""

import json

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask import session as cookie
from flask_login import current_user, logout_user

from community import rights
from community.auth import public, signed_in
from community.db import get_session, london_today
from community.errors import InvalidCredentials
from community.i18n import _
from community.limits import SIGN_IN_PER_ADDRESS, limiter
from community.rights_forms import DeleteAccountForm, DownloadDataForm
from community.web import attempt

bp = Blueprint("rights", __name__)


@bp.get("/privacy")
@public
def privacy():
    return render_template("community/privacy.html")


@bp.get("/accessibility")
@public
def accessibility():
    return render_template("community/accessibility.html")


@bp.get("/cookies")
@public
def cookies():
    return render_template("community/cookies.html")


@bp.post("/account/data")
@signed_in
def download_data():
    """A JSON file of everything we hold about the signed-in person: an attachment, never cached."""
    if not DownloadDataForm().validate_on_submit():
        return redirect(url_for("community.account"))
    session = get_session()
    document = rights.export_personal_data(session=session, person_id=current_user.id,
                                           sources=rights.registered(),
                                           privacy_url=url_for("rights.privacy", _external=True))
    session.commit()
    name = f"thriving-communities-my-data-{london_today():%Y-%m-%d}.json"
    return Response(json.dumps(document, indent=2, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store", "Pragma": "no-cache"})


@bp.route("/account/delete", methods=["GET", "POST"])
@signed_in
@limiter.limit(SIGN_IN_PER_ADDRESS, methods=["POST"])
def delete_account():
    """Shows what is erased, withdrawn and kept (or why the account cannot be deleted) before
    anything changes; the password again deletes it and signs the person out."""
    session = get_session()
    sources = rights.registered()
    form = DeleteAccountForm()
    plan = rights.deletion_plan(session=session, person_id=current_user.id, sources=sources)
    if plan.allowed and attempt(form, lambda s: rights.delete_account(
            session=s, person_id=current_user.id, password=form.password.data, sources=sources),
            field_for={InvalidCredentials: "password"}).ok:
        logout_user()
        cookie.clear()
        flash(_("Your account has been deleted and you have been signed out."), "success")
        return redirect(url_for("community.home"))
    return render_template("community/delete_account.html", form=form, plan=plan)
