"""A member cannot make a public page slow for everyone: comments are rate limited per
member, paged, rendered once when written, and query strings the page does not read do not
get past its cache."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import CampaignKind, Comment
from campaign.page_queries import COMMENTS_PER_PAGE
from campaign.services import proposals as proposal_service
from tests.factories import make_campaign, make_user
from tests.helpers import login, post_form


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_COMMENT="2 per minute")
def test_comments_are_rate_limited_per_member(client):
    proposal = make_campaign(CampaignKind.PROPOSAL)
    login(client, make_user().email)
    page = f"/proposals/{proposal.slug}"
    answers = [post_form(client, f"{page}/comments", {"body": f"Comment {n}"}, page=page) for n in range(3)]
    assert [a.status_code for a in answers] == [302, 302, 429]
    assert db.session.execute(select(func.count()).select_from(Comment)).scalar_one() == 2


def test_comments_are_paged(client):
    proposal = make_campaign(CampaignKind.PROPOSAL)
    author = make_user()
    for n in range(COMMENTS_PER_PAGE + 5):
        proposal_service.add_comment(proposal.id, author.id, f"Comment number {n:03d}")
    first = client.get(f"/proposals/{proposal.slug}").get_data(as_text=True)
    second = client.get(f"/proposals/{proposal.slug}?comments=2").get_data(as_text=True)
    assert "Comment number 000" in first and f"Comment number {COMMENTS_PER_PAGE:03d}" not in first
    assert f"Comment number {COMMENTS_PER_PAGE:03d}" in second and "number 000" not in second
    assert "?comments=2#comments" in first


def test_comment_html_is_rendered_once_when_written(client, monkeypatch):
    proposal = make_campaign(CampaignKind.PROPOSAL)
    comment = proposal_service.add_comment(proposal.id, make_user().id, "A **bold** idea")
    assert comment.body_html == "<p>A <strong>bold</strong> idea</p>\n"

    def refuse(text):
        raise AssertionError("a comment's Markdown was rendered on a page view")

    monkeypatch.setattr("campaign.markdown.render_markdown", refuse)
    page = client.get(f"/proposals/{proposal.slug}")
    assert page.status_code == 200 and "<strong>bold</strong>" in page.get_data(as_text=True)


def test_query_parameters_the_page_does_not_use_do_not_bypass_its_cache(client):
    petition = make_campaign()
    for query in ("", "?utm_source=x", "?anything=1&more=2", "?ref=not%20valid!", "?comments=7"):
        response = client.get(f"/petitions/{petition.slug}{query}")
        assert response.status_code == 200
        assert response.cache_control.public, query  # the shared page, not one made for this
    shared = client.get(f"/petitions/{petition.slug}?ref=whatsapp")
    assert not shared.cache_control.public  # a share's ref is remembered for this visitor
