"""Pages answer alike whether or not something private exists: co-author invitations,
taken slugs, suggested brands."""

from __future__ import annotations

import re

from campaign.models import CampaignKind
from tests.factories import make_campaign, make_user
from tests.helpers import login, post_form


def _flash(response) -> str:
    text = response.get_data(as_text=True)
    return re.sub(r"\S+@example\.org", "<email>", re.search(r'class="flash[^>]*>(.*?)</',
                                                           text, re.S).group(1))


def test_coauthor_invitations_answer_alike_for_every_address(client, run_jobs, outbox):
    organiser = make_user("organiser@example.org")
    make_user("moderator@example.org", name="Demo Moderator")
    proposal = make_campaign(CampaignKind.PROPOSAL, organiser=organiser)
    login(client, organiser.email)
    page = f"/proposals/{proposal.slug}"
    answers = [_flash(post_form(client, f"{page}/coauthors", {"email": email}, page=page,
                                follow_redirects=True))
               for email in ("moderator@example.org", "nobody@example.org",
                             "moderator@example.org")]  # the last: already invited
    assert answers[0] == answers[1] == answers[2]
    assert "Demo Moderator" not in answers[0]
    run_jobs()
    assert [m["To"] for m in outbox()] == ["moderator@example.org"]
