"""Campaign cards kept rendered per campaign, language and shown values (campaign/cards.py):
a kept card is always the card the macro would render now."""

from datetime import timedelta
from enum import Enum

import pytest
from flask import get_template_attribute
from flask_babel import force_locale
from markupsafe import Markup
from sqlalchemy import inspect

from campaign.cards import LruCache, campaign_card, card_key
from campaign.extensions import db
from campaign.models import CampaignKind, CampaignState, utcnow
from tests.factories import make_brand, make_campaign


def rendered_anew(campaign, title=None, summary=None) -> Markup:
    return get_template_attribute("_macros.html", "campaign_card_html")(
        campaign, title=title, summary=summary
    )


#: Columns a card cannot show differently: its identity, and what only the search, the
#: counting and other pages read.
NOT_CHANGED = {"id", "kind", "target_brand_id", "organiser_id", "escalated_from_id", "thanks_for_id"}


def _another(value, column):
    """A different value of ``column``'s type."""
    if isinstance(value, Enum):
        members = list(type(value))
        return members[(members.index(value) + 1) % len(members)]
    if isinstance(value, bool) or (value is None and column.type.python_type is bool):
        return not value
    if isinstance(value, int):
        return value + 1_234
    if value is None:
        python_type = column.type.python_type
        if python_type is str:
            return "abc123"
        if python_type is int:
            return 7
        return utcnow() - timedelta(days=3)
    if isinstance(value, str):
        return value + "-changed"
    return value - timedelta(days=1, hours=5)


@pytest.mark.parametrize("kind", list(CampaignKind))
def test_a_kept_card_is_the_card_rendered_anew_whatever_column_changes(app, kind):
    campaign = make_campaign(kind, brand=make_brand("Acme Foods"), goal=100)
    campaign.confirmed_count = 120
    db.session.commit()
    for attribute in inspect(type(campaign)).column_attrs:
        column = attribute.columns[0]
        if column.name in NOT_CHANGED:
            continue
        for state in (CampaignState.OPEN, CampaignState.WON, CampaignState.CLOSED):
            campaign.state = state
            with app.test_request_context("/"):
                assert campaign_card(campaign) == rendered_anew(campaign)
                setattr(campaign, attribute.key, _another(getattr(campaign, attribute.key), column))
                assert campaign_card(campaign) == rendered_anew(campaign), column.name
    db.session.rollback()


def test_a_renamed_or_another_brand_shows_at_once(app):
    brand = make_brand("Acme Foods")
    campaign = make_campaign(brand=brand)
    with app.test_request_context("/"):
        assert "Acme Foods" in campaign_card(campaign)
        brand.name = "Acme Drinks"
        assert "Acme Drinks" in campaign_card(campaign)
        campaign.target_brand = make_brand("Zenith")
        assert "Zenith" in campaign_card(campaign) and "Acme" not in campaign_card(campaign)
        assert campaign_card(campaign) == rendered_anew(campaign)


def test_each_language_has_its_own_card(app):
    campaign = make_campaign(CampaignKind.PETITION, goal=5000)
    campaign.confirmed_count = 1234
    db.session.commit()
    with app.test_request_context("/"):
        with force_locale("en"):
            english = campaign_card(campaign)
            english_key = card_key(campaign)
        with force_locale("es"):
            spanish = campaign_card(campaign)
            assert card_key(campaign) != english_key
            assert spanish == rendered_anew(campaign)
        with force_locale("en"):
            assert campaign_card(campaign) == english
    assert "1,234" in english and "signatures" in english
    assert "1234" in spanish and "firmas" in spanish and "signatures" not in spanish


def test_the_title_and_summary_are_put_in_for_each_page_escaped_or_marked(app):
    campaign = make_campaign(title="<script>alert(1)</script> & coffee")
    campaign.summary = "Fair <b>coffee</b> prices"
    with app.test_request_context("/"):
        plain = campaign_card(campaign)
        assert plain == rendered_anew(campaign)
        assert "&lt;script&gt;" in plain and "<script>" not in plain and "&lt;b&gt;" in plain
        marked = campaign_card(
            campaign, title=Markup("<mark>Coffee</mark>"), summary=Markup("<mark>Fair</mark>")
        )
        assert marked == rendered_anew(campaign, Markup("<mark>Coffee</mark>"), Markup("<mark>Fair</mark>"))
        assert "&lt;script&gt;" not in marked and "<mark>Fair</mark>" in marked
        # The kept card is the same one both times: only the title and summary differ.
        assert campaign_card(campaign) == plain


def test_a_search_page_marks_the_words_of_its_own_query_on_kept_cards(client):
    make_campaign(title="Fair coffee for growers")
    first = client.get("/campaigns/?q=coffee").get_data(as_text=True)
    second = client.get("/campaigns/?q=growers").get_data(as_text=True)
    plain = client.get("/campaigns/").get_data(as_text=True)
    assert ">Fair <mark>coffee</mark> for growers<" in first
    assert ">Fair coffee for <mark>growers</mark><" in second
    assert ">Fair coffee for growers<" in plain and "<mark>" not in plain


def test_the_count_on_a_listing_is_the_row_just_read(client):
    campaign = make_campaign(title="Count me")
    campaign.confirmed_count = 41
    db.session.commit()
    assert "<strong>41</strong>" in client.get("/campaigns/").get_data(as_text=True)
    campaign.confirmed_count = 42
    campaign.state = CampaignState.WON
    campaign.won_at = utcnow()
    db.session.commit()
    html = client.get("/campaigns/").get_data(as_text=True)
    assert "<strong>42</strong>" in html and "Victory!" in html and "<strong>41</strong>" not in html


@pytest.mark.app_config(CARD_CACHE_SIZE=0)
def test_a_cache_of_no_cards_renders_each_anew(client):
    make_campaign(title="Never kept")
    assert ">Never kept<" in client.get("/campaigns/").get_data(as_text=True)
    assert len(client.application.extensions["campaign_cards"]) == 0


def test_the_least_recently_shown_card_goes_first():
    cards = LruCache(2)
    cards.put("a", 1)
    cards.put("b", 2)
    assert cards.get("a") == 1
    cards.put("c", 3)
    assert (cards.get("a"), cards.get("b"), cards.get("c")) == (1, None, 3)
    assert len(cards) == 2
