"""Search, browse sorts and filters, topics and the brand picker, on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest

from campaign.extensions import db
from campaign.models import CampaignKind, CampaignState, CountryCount, Topic, utcnow
from campaign.search import Filters, campaigns_statement, highlight, parse_query
from tests.factories import make_brand, make_campaign


def titles(filters: Filters) -> list[str]:
    return [c.title for c in db.session.execute(campaigns_statement(filters)).scalars()]


def found(query: str, **filters) -> list[str]:
    return titles(Filters(query=query, **filters))


def test_words_in_any_order_and_any_form(app):
    make_campaign(title="Pay farmers a living income")
    make_campaign(title="Stop the noisy leaf blowers")
    assert found("farmers living") == ["Pay farmers a living income"]
    assert found("living farmer") == ["Pay farmers a living income"]
    assert found("farmers blowers") == []


def test_spanish_campaign_found_by_another_form_of_the_word(app):
    spanish = make_campaign(title="Salarios dignos para las trabajadoras del campo")
    spanish.language = "es"
    db.session.commit()
    make_campaign(title="Working conditions in the fields")
    assert found("trabajador salario") == ["Salarios dignos para las trabajadoras del campo"]
    assert found("digno") == ["Salarios dignos para las trabajadoras del campo"]


def test_phrases_exclusions_and_or(app):
    make_campaign(title="Fair coffee from Nestlé farms")
    make_campaign(title="Fair coffee prices for growers")
    make_campaign(title="Coffee fair in the town square")
    make_campaign(title="Plastic-free tea bags now")
    assert sorted(found('"fair coffee"')) == ["Fair coffee from Nestlé farms",
                                              "Fair coffee prices for growers"]
    assert sorted(found("coffee -nestle")) == ["Coffee fair in the town square",
                                               "Fair coffee prices for growers"]
    assert sorted(found('"fair coffee" -growers')) == ["Fair coffee from Nestlé farms"]
    assert sorted(found("tea or growers")) == ["Fair coffee prices for growers",
                                               "Plastic-free tea bags now"]


def test_brand_names_summary_and_body_are_searched_title_first(app):
    brand = make_brand("Lumbercorp")
    by_brand = make_campaign(title="Replant what you cut down", brand=brand)
    in_title = make_campaign(title="Forests matter more than profit")
    in_body = make_campaign(title="A campaign about something else")
    in_body.body = "Old forests are cut every day."
    db.session.commit()
    assert found("lumbercorp") == [by_brand.title]
    # Title (weight A) ranks above the story (C).
    assert found("forests") == [in_title.title, in_body.title]
    brand.name = "Timberline"
    db.session.commit()
    assert found("timberline") == [by_brand.title] and found("lumbercorp") == []


def test_relevance_then_momentum(app):
    quiet = make_campaign(title="Clean rivers for the towns")
    busy = make_campaign(title="Clean rivers for the farms")
    busy.momentum = 50
    db.session.commit()
    assert found("clean rivers") == [busy.title, quiet.title]


def test_typos_found_on_postgresql_only(app):
    make_campaign(title="Fair coffee for the farmers who grow it")
    make_campaign(title="Something else entirely")
    make_campaign(title="Different things", brand=make_brand("Northwind"))
    typo = found("cofee")
    brand_typo = found("nortwind")
    if db.engine.dialect.name == "postgresql":
        assert typo == ["Fair coffee for the farmers who grow it"]
        assert brand_typo == ["Different things"]
    else:
        assert typo == [] and brand_typo == []


def test_highlight_escapes_and_marks_every_form():
    marked = highlight("<b>Farmers</b> & a farmer's living", "farmer live")
    assert str(marked) == ("&lt;b&gt;<mark>Farmers</mark>&lt;/b&gt; &amp; a <mark>farmer</mark>"
                           "&#39;s <mark>living</mark>")
    assert str(highlight("<i>x</i>", "")) == "&lt;i&gt;x&lt;/i&gt;"


def test_parse_query_reads_like_websearch():
    parsed = parse_query('coffee "living income" -nestle or tea -"big brand"')
    assert parsed.groups == [[("coffee",)], [("living", "income")]]
    assert parsed.excluded == [("nestle",), ("big", "brand")]
    assert parse_query("a or b c").groups == [[("a",), ("b",)], [("c",)]]
    assert parse_query('"unclosed phrase').groups == [[("unclosed", "phrase")]]
    assert parse_query("").groups == [] and parse_query("-").excluded == []
