"""Pages answer alike whether or not something private exists: co-author invitations,
taken slugs, suggested brands."""

from __future__ import annotations

import re

from campaign.models import CampaignKind
from tests.factories import make_campaign, make_user
from tests.helpers import login, post_form


def _flash(response) -> str:
    text = response.get_data(as_text=True)
    return re.sub(
        r"\S+@example\.org", "<email>", re.search(r'class="flash[^>]*>(.*?)</', text, re.S).group(1)
    )


def test_coauthor_invitations_answer_alike_for_every_address(client, run_jobs, outbox):
    organiser = make_user("organiser@example.org")
    make_user("moderator@example.org", name="Demo Moderator")
    proposal = make_campaign(CampaignKind.PROPOSAL, organiser=organiser)
    login(client, organiser.email)
    page = f"/proposals/{proposal.slug}"
    answers = [
        _flash(post_form(client, f"{page}/coauthors", {"email": email}, page=page, follow_redirects=True))
        for email in ("moderator@example.org", "nobody@example.org", "moderator@example.org")
    ]  # the last: already invited
    assert answers[0] == answers[1] == answers[2]
    assert "Demo Moderator" not in answers[0]
    run_jobs()
    assert [m["To"] for m in outbox()] == ["moderator@example.org"]


def test_the_api_answers_a_suggested_brand_as_an_unknown_one(client):
    from campaign.extensions import db
    from tests.factories import make_brand

    suggested = make_brand("Suggested Only")
    suggested.approved_at = None
    db.session.commit()
    answers = [client.get(f"/api/v1/campaigns?brand={slug}") for slug in (suggested.slug, "no-such-brand")]
    assert [a.status_code for a in answers] == [400, 400]
    messages = [
        a.get_json()["error"]["message"].replace(slug, "<slug>")
        for a, slug in zip(answers, (suggested.slug, "no-such-brand"), strict=True)
    ]
    assert messages[0] == messages[1]
