"""bench/load.py's baseline for the idea list (issue 18) must be the same work as the app's page:
the same rows through the raw driver, rendered by the same template. If it drifted (a column
left out, a block not rendered), the ratio it prints would flatter or shame the app for nothing."""

from werkzeug.test import Client

from bench import load
from tests.support.factories import feasible_idea, open_round
from votes import services


def test_the_same_template_baseline_serves_the_apps_idea_list_byte_for_byte(app, client, session, world,
                                                                           monkeypatch, tmp_path):
    ideas = [feasible_idea(session, world, f"Idea number {n}", 1_000 + n) for n in range(25)]
    services.support(session=session, idea_id=ideas[0].id, person=world["residents"][1])
    open_round(session, world, ideas[:3])
    session.commit()
    for name, value in {"ENV": "testing", "DATABASE_URL": app.config["DATABASE_URL"],
                        "SECRET_KEY": app.config["SECRET_KEY"], "OUTBOX_DIR": str(tmp_path / "outbox"),
                        "RATELIMIT_ENABLED": "false"}.items():
        monkeypatch.setenv(f"THRIVING_{name}", value)
    path = f"/teams/{world['team'].slug}/ideas"
    client.set_cookie("seen-banner", "1")  # a visitor with a cookie: the page is built, not cached
    page = client.get(path)
    baseline = load.same_template_app()
    raw = Client(baseline).get(path)
    assert page.status_code == raw.status_code == 200
    assert "Idea number 24" in page.get_data(as_text=True)  # newest first, a full page of 20
    assert "Voting is open:" in page.get_data(as_text=True)
    assert raw.get_data(as_text=True) == page.get_data(as_text=True)
    assert Client(baseline).get(f"{path}x").status_code == 404
