"""Counted phrases read right: every page and email that shows a count, at 0, 1, 2 and 5, in
English and Spanish. A phrase built by hand ("1 signatures", "reported 1 time(s)") fails."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask_babel import force_locale

from campaign.extensions import db
from campaign.mail import render_email
from campaign.models import (
    Campaign,
    CampaignKind,
    CampaignState,
    Comment,
    CommentReport,
    Delivery,
    DeliveryState,
    Milestone,
    Role,
    utcnow,
)
from campaign.packages import seal_for
from campaign.tokens import make_token
from tests.factories import make_brand, make_campaign, make_user
from tests.helpers import login

COUNTS = (0, 1, 2, 5)
LANGUAGES = ("en", "es")

# The nouns a count is followed by, singular and plural, per language.
NOUNS = {
    "en": [
        ("signature", "signatures"),
        ("pledge", "pledges"),
        ("endorsement", "endorsements"),
        ("supporter", "supporters"),
        ("customer", "customers"),
        ("comment", "comments"),
        ("campaign", "campaigns"),
        ("support", "supports"),
    ],
    "es": [
        ("firma", "firmas"),
        ("compromiso", "compromisos"),
        ("respaldo", "respaldos"),
        ("apoyo", "apoyos"),
        ("cliente", "clientes"),
        ("comentario", "comentarios"),
        ("campaña", "campañas"),
    ],
}
EXPECTED = {  # kind -> language -> (singular, plural) of its own count
    CampaignKind.PETITION: {"en": ("signature", "signatures"), "es": ("firma", "firmas")},
    CampaignKind.BOYCOTT: {"en": ("pledge", "pledges"), "es": ("compromiso", "compromisos")},
    CampaignKind.BUYCOTT: {"en": ("pledge", "pledges"), "es": ("compromiso", "compromisos")},
    CampaignKind.PROPOSAL: {"en": ("endorsement", "endorsements"), "es": ("respaldo", "respaldos")},
}


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def wrong_forms(text: str, language: str) -> list[str]:
    """Every "1 <plural>" and "<not 1> <singular>" in ``text``, and any "(s)"."""
    found = re.findall(r"\w*\(s\)", text)
    for singular, plural in NOUNS[language]:
        found += re.findall(rf"(?<![\d.,])1 {plural}\b", text)
        found += re.findall(rf"(?<![\d.,])(?:0|[2-9]|\d[\d.,]*\d) {singular}\b", text)
    return found


def check(text: str, language: str, where: str) -> None:
    assert not wrong_forms(text, language), (where, wrong_forms(text, language), text[:3000])


def expected_phrase(kind: CampaignKind, n: int, language: str) -> str:
    singular, plural = EXPECTED[kind][language]
    return f"{n} {singular if n == 1 else plural}"


@pytest.mark.parametrize("kind", list(CampaignKind))
def test_each_kind_counts_in_both_languages(app, kind):
    campaign = make_campaign(kind)
    for language in LANGUAGES:
        with force_locale(language):
            for n in (*COUNTS, 1_000_000):
                phrase = campaign.count_phrase(n)
                if n < 1_000:
                    assert phrase == expected_phrase(kind, n, language)
                check(phrase, language, f"{kind} {n}")
            assert "<strong>1</strong>" in campaign.count_phrase(1, strong=True)


def test_pages_that_show_a_count(app, client):
    organiser = make_user("organiser@example.org")
    brand = make_brand("Northwind Coffee")
    for n in COUNTS:
        for kind in CampaignKind:
            campaign = make_campaign(kind, organiser=organiser, brand=brand, goal=10)
            campaign.confirmed_count = n
            campaign.monthly_spend_total = 40 * n
            if kind == CampaignKind.PETITION:
                delivery = Delivery(
                    campaign=campaign,
                    brand=brand,
                    round=1,
                    up_to_support_id=n,
                    state=DeliveryState.SENT,
                    support_count=n,
                    total_count=n,
                    digest=f"{n:064x}",
                    sent_at=utcnow(),
                )
                delivery.seal = seal_for(delivery.digest)
                db.session.add(delivery)
        won = make_campaign(CampaignKind.PETITION, organiser=organiser, brand=brand, state=CampaignState.WON)
        won.confirmed_count, won.won_at, won.victory_story = n, utcnow(), "What changed, told."
        db.session.commit()
    deliveries = db.session.execute(db.select(Delivery)).scalars().all()
    for language in LANGUAGES:
        headers = {"Accept-Language": language}
        pages = ["/victories", f"/brands/{brand.slug}", f"/brands/{brand.slug}/roadmap"]
        for delivery in deliveries:
            c = delivery.campaign
            pages += [
                f"/petitions/{c.slug}",
                f"/petitions/{c.slug}/embed",
                f"/verify?digest={delivery.digest}&seal={delivery.seal}",
                f"/deliveries/{make_token('delivery', {'d': delivery.id})}",
            ]
        for page in pages:
            response = client.get(page, headers=headers)
            assert response.status_code == 200, (page, response.status_code)
            check(text_of(response.get_data(as_text=True)), language, page)
    # Every kind's page shows its own count in the right form.
    for language in LANGUAGES:
        for c in db.session.execute(db.select(Campaign).filter_by(state=CampaignState.OPEN)).scalars():
            html = client.get(f"/{c.blueprint}/{c.slug}", headers={"Accept-Language": language}).get_data(
                as_text=True
            )
            text = text_of(html)
            check(text, language, c.slug)
            singular, plural = EXPECTED[c.kind][language]
            noun = singular if c.confirmed_count == 1 else plural
            assert re.search(rf"\b{c.confirmed_count} {noun}\b", text), (c.kind, language)
    login(client, organiser.email)
    for language in LANGUAGES:
        for c in db.session.execute(
            db.select(Campaign).filter_by(state=CampaignState.OPEN, kind=CampaignKind.PETITION)
        ).scalars():
            response = client.get(f"/petitions/{c.slug}/supporters", headers={"Accept-Language": language})
            assert response.status_code == 200
            text = text_of(response.get_data(as_text=True))
            check(text, language, "supporters")
            assert expected_phrase(c.kind, c.confirmed_count, language) in text


def test_the_moderation_queue_counts_reports(app, client):
    moderator = make_user("mod@example.org", role=Role.MODERATOR)
    proposal = make_campaign(CampaignKind.PROPOSAL)
    for n in (1, 2, 5):
        comment = Comment(
            campaign_id=proposal.id, user_id=proposal.organiser_id, body=f"Comment reported {n}"
        )
        db.session.add(comment)
        db.session.flush()
        for i in range(n):
            db.session.add(
                CommentReport(comment_id=comment.id, user_id=make_user(f"r{n}-{i}@example.org").id)
            )
    db.session.commit()
    login(client, moderator.email)
    expected = {
        "en": ["reported once", "reported 2 times", "reported 5 times"],
        "es": ["denunciado una vez", "denunciado 2 veces", "denunciado 5 veces"],
    }
    for language in LANGUAGES:
        text = text_of(
            client.get("/moderation/", headers={"Accept-Language": language}).get_data(as_text=True)
        )
        check(text, language, "moderation")
        for phrase in expected[language]:
            assert phrase in text, (language, phrase)


def test_emails_that_show_a_count(app):
    brand = make_brand("Northwind Coffee")
    person = make_user("ada@example.org")
    for kind in CampaignKind:
        campaign = make_campaign(kind, brand=brand, goal=5)
        for n in COUNTS:
            campaign.confirmed_count = n
            milestone = Milestone(campaign_id=campaign.id, threshold=max(n, 1), is_goal=n == 5)
            delivery = Delivery(
                campaign_id=campaign.id,
                brand_id=brand.id,
                round=1,
                support_count=n,
                total_count=n,
                up_to_support_id=n,
                digest="0" * 64,
                seal="0",
            )
            for language in LANGUAGES:
                with force_locale(language):
                    for template in (
                        "milestone_organiser",
                        "goal_supporter",
                        "victory_supporter",
                        "delivery",
                    ):
                        email = render_email(
                            template,
                            to="x@example.org",
                            subject="s",
                            campaign=campaign,
                            milestone=milestone,
                            delivery=delivery,
                            brand=brand,
                            organiser=person,
                            support=person,
                            unsubscribe_url="http://x",
                            settings_url="http://x",
                            link="http://x",
                            verify_url="http://x",
                            campaign_url="http://x",
                            claim_url="http://x",
                        )
                        for part in (email.text, text_of(email.html)):
                            check(part, language, f"{template} {kind} {n}")
                    if n:
                        phrase = expected_phrase(kind, max(n, 1), language)
                        email = render_email(
                            "milestone_organiser",
                            to="x@example.org",
                            subject="s",
                            campaign=campaign,
                            milestone=milestone,
                            organiser=person,
                            campaign_url="http://x",
                        )
                        assert phrase in email.text, (kind, n, language, email.text)
    # The delivery email's subject, at each count, in English (brands are written to in it).
    from campaign.jobs.deliveries import ngettext

    subjects = [
        ngettext(
            "%(count)s customer asks %(brand)s: %(title)s",
            "%(count)s customers ask %(brand)s: %(title)s",
            n,
            count=n,
            brand="B",
            title="T",
        )
        for n in COUNTS
    ]
    assert subjects[1] == "1 customer asks B: T" and subjects[2] == "2 customers ask B: T"
