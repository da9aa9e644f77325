"""Share first: after supporting, after confirming and in the emails, each supporter gets
share links carrying their own code; their account shows who supported after their shares."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

from campaign.extensions import db
from campaign.models import CampaignKind, Support
from campaign.sharing import parse_referral, referral_code
from tests.factories import make_campaign, make_user
from tests.helpers import body_text, csrf_token, link_in, login, post_form

SIGN = {
    "name": "Ada Lovelace",
    "email": "ada@example.org",
    "country": "GB",
    "comment": "",
    "is_public": "y",
    "consents_to_updates": "y",
}


def sign(client, campaign, **fields):
    page = f"/{campaign.blueprint}/{campaign.slug}"
    return post_form(client, f"{page}/support", {**SIGN, **fields}, page=page)


def test_a_referral_code_names_its_support_and_cannot_be_forged(app):
    code = referral_code(12345)
    assert parse_referral(f"whatsapp-{code}") == ("whatsapp", 12345)
    assert parse_referral("email") == ("email", None)
    forged = referral_code(12345)[:-1] + ("0" if code[-1] != "0" else "1")
    assert parse_referral(f"x-{forged}") == ("x", None)
    assert parse_referral(f"x-{code[:-6]}{referral_code(99)[-6:]}") == ("x", None)
    assert parse_referral("<script>") == (None, None)


def test_the_thank_you_and_confirmed_pages_lead_with_the_supporters_own_links(app, client, run_jobs, outbox):
    petition = make_campaign(CampaignKind.PETITION, title="Fair pay for pickers")
    thanks = client.get(sign(client, petition).headers["Location"]).get_data(as_text=True)
    support = db.session.execute(db.select(Support)).scalar_one()
    code = referral_code(support.id)
    assert "Now ask three friends" in thanks
    assert thanks.index("Now ask three friends") < thanks.index("Back to")
    assert f'value="http://localhost/petitions/{petition.slug}?ref=link-{code}"' in thanks
    assert 'data-copy="share-link"' in thanks and "data-share-url=" in thanks
    links = [unquote(html.unescape(h)) for h in re.findall(r'href="([^"]+)"', thanks)]
    for host, channel in (
        ("wa.me", "whatsapp"),
        ("bsky.app", "bluesky"),
        ("twitter.com", "x"),
        ("facebook.com", "facebook"),
        ("linkedin.com", "linkedin"),
        ("mailto:", "email"),
    ):
        [link] = [u for u in links if host in u]
        assert f"?ref={channel}-{code}" in link, link

    run_jobs()
    [message] = outbox()
    text = body_text(message)
    assert text.index("Help it grow") > text.index("/supports/confirm/")
    assert f"?ref=link-{code}" in text and f"ref%3Dwhatsapp-{code}" in text
    html_part = message.get_body(preferencelist=("html",)).get_content()
    assert f"ref%3Dbluesky-{code}" in html_part
    confirmed = client.get(link_in(message, "/supports/confirm/")).get_data(as_text=True)
    assert "Now ask three friends" in confirmed and f"?ref=link-{code}" in confirmed


def test_the_account_shows_how_many_supported_after_the_members_shares(app, client, run_jobs, outbox):
    petition = make_campaign(CampaignKind.PETITION)
    member = make_user("sharer@example.org", name="Sharer")
    login(client, member.email)
    sign(client, petition, name="Sharer", email=member.email)
    mine = db.session.execute(db.select(Support).filter_by(user_id=member.id)).scalar_one()
    code = referral_code(mine.id)
    page = client.get("/account/").get_data(as_text=True)
    assert "Nobody has supported through your share links yet" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})

    # Two friends open the WhatsApp link and sign; one confirms.
    for n, confirm in ((1, True), (2, False)):
        friend = app.test_client()
        friend.get(f"/petitions/{petition.slug}?ref=whatsapp-{code}")
        sign(friend, petition, name=f"Friend {n}", email=f"friend{n}@example.org")
        run_jobs()
        if confirm:
            [message] = [m for m in outbox() if m["To"] == f"friend{n}@example.org"]
            friend.get(link_in(message, "/supports/confirm/"))
    # A forged code credits nobody.
    stranger = app.test_client()
    stranger.get(f"/petitions/{petition.slug}?ref=whatsapp-{code[:-6]}abcdef")
    sign(stranger, petition, name="Stranger", email="stranger@example.org")

    friends = (
        db.session.execute(db.select(Support).where(Support.email != member.email).order_by(Support.id))
        .scalars()
        .all()
    )
    assert [(s.referral, s.referred_by_id) for s in friends] == [
        ("whatsapp", mine.id),
        ("whatsapp", mine.id),
        ("whatsapp", None),
    ]
    login(client, member.email)
    page = client.get("/account/").get_data(as_text=True)
    assert "<strong>1 person</strong> supported after you shared." in page
