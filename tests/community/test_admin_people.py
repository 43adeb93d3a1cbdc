"""Issue 20, item 13: invitations name the team and the role; removing a role is confirmed
first; the admin's people list is searched and paged without JavaScript; a signed-in person who
opens the sign-up page goes to their home."""

from sqlmodel import select

from community import services
from community.db import open_session
from community.mail import recent
from community.models import Membership
from tests.support.factories import PASSWORD


def test_an_invitation_names_the_team_and_the_role_in_the_email_and_on_the_accept_page(
        client, session, make_person, sign_in, place_and_team, engine):
    _place, team = place_and_team
    sign_in(make_person("admin@example.org", role="admin"))
    response = client.post("/admin/invite", data={"email": "new@example.org", "role": "enabler", "team_id": team.id})
    assert response.status_code == 302
    with open_session(engine, write=False) as reader:
        message = next(m for m in recent(reader) if m.to_address == "new@example.org")
    assert "Shirebrook Connected Team" in message.subject
    assert "as the enabler of Shirebrook Connected Team" in message.body
    token = message.body.split("/invitations/")[1].split()[0]
    client.post("/sign-out")
    page = client.get(f"/invitations/{token}").get_data(as_text=True)
    assert "as <strong>the enabler of Shirebrook Connected Team</strong>" in page


def test_removing_a_role_shows_whose_role_in_which_team_before_anything_changes(
        client, session, make_person, sign_in, place_and_team, engine):
    _place, team = place_and_team
    member = make_person("mo@example.org", role="member", team=team)
    sign_in(make_person("admin@example.org", role="admin"))
    confirm = f"/admin/people/{member.id}/roles/remove?role=member&team_id={team.id}"
    assert f'href="{confirm.replace("&", "&amp;")}"' in client.get("/admin").get_data(as_text=True)
    page = client.get(confirm)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Remove Rita Morgan’s member role in Shirebrook Connected Team?" in text
    assert "mo@example.org" in text
    with open_session(engine, write=False) as reader:  # nothing has changed yet
        assert reader.exec(select(Membership).where(Membership.person_id == member.id)).first() is not None
    done = client.post(f"/admin/people/{member.id}/roles/remove", data={"role": "member", "team_id": team.id})
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin")
    with open_session(engine, write=False) as reader:
        assert reader.exec(select(Membership).where(Membership.person_id == member.id)).first() is None
    # A role the person does not have: back to the list with the reason, nothing to confirm.
    gone = client.get(confirm)
    assert gone.status_code == 302 and gone.headers["Location"].endswith("/admin")


def test_the_admin_searches_people_by_name_or_email_page_by_page(
        client, session, make_person, sign_in, place_and_team, monkeypatch):
    for name, email in (("Zeph Adams", "zeph@example.org"), ("Amy Zephyrine", "amy@example.org"),
                        ("Bob Brown", "bob.zeph@example.net"), ("Carol Cole", "carol@example.org")):
        services.sign_up_resident(session, name=name, email=email, password=PASSWORD, postcode="NG20 8AA")
    session.commit()
    sign_in(make_person("admin@example.org", role="admin"))
    page = client.get("/admin?q=ZEPH").get_data(as_text=True)
    assert "zeph@example.org" in page and "amy@example.org" in page and "bob.zeph@example.net" in page
    assert "carol@example.org" not in page and "admin@example.org" not in page
    assert "3 people match “ZEPH”" in page and 'value="ZEPH"' in page
    assert "carol@example.org" in client.get("/admin?q=example.org").get_data(as_text=True)
    assert "nobody@" not in client.get("/admin?q=%25").get_data(as_text=True)  # % is a character, not a wildcard
    assert "No one matches “%”" in client.get("/admin?q=%25").get_data(as_text=True)
    monkeypatch.setattr(services, "PEOPLE_PER_PAGE", 2)
    first = client.get("/admin?q=zeph").get_data(as_text=True)
    assert first.count('data-label="Email"') == 2 and "/admin?q=zeph&amp;page=2" in first
    second = client.get("/admin?q=zeph&page=2").get_data(as_text=True)
    assert second.count('data-label="Email"') == 1 and "/admin?q=zeph&amp;page=1" in second
    assert client.get("/admin?page=x").status_code == 200  # a bad page number is the first page


def test_a_signed_in_person_who_opens_sign_up_goes_to_their_home(client, make_person, sign_in, place_and_team):
    sign_in(make_person("rita@example.org"))
    response = client.get("/sign-up")
    assert response.status_code == 302 and response.headers["Location"] == "/teams/shirebrook"
    posted = client.post("/sign-up", data={"name": "X", "email": "x@example.org", "password": PASSWORD,
                                           "postcode": "NG20 8AA"})
    assert posted.status_code == 302 and posted.headers["Location"] == "/teams/shirebrook"
