"""Search, browse sorts and filters, topics and the brand picker, on SQLite and PostgreSQL."""

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import event, text

from campaign.extensions import db
from campaign.models import Campaign, CampaignKind, CampaignState, CountryCount, Role, Topic, utcnow
from campaign.search import Filters, browse_page, campaigns_statement, highlight, parse_query
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
    assert sorted(found('"fair coffee"')) == [
        "Fair coffee from Nestlé farms",
        "Fair coffee prices for growers",
    ]
    assert sorted(found("coffee -nestle")) == [
        "Coffee fair in the town square",
        "Fair coffee prices for growers",
    ]
    assert sorted(found('"fair coffee" -growers')) == ["Fair coffee from Nestlé farms"]
    assert sorted(found("tea or growers")) == ["Fair coffee prices for growers", "Plastic-free tea bags now"]
    # Only exclusions: nothing to rank by, so the default sort (trending) orders them.
    busy = db.session.execute(
        db.select(Campaign).filter_by(title="Coffee fair in the town square")
    ).scalar_one()
    busy.momentum = 9
    db.session.commit()
    assert found("-nestle -tea") == [
        "Coffee fair in the town square",
        "Fair coffee prices for growers",
    ]
    # A word asked for and excluded: nothing, without reading the index.
    assert found("fair coffee -coffee") == []
    assert found('"fair coffee" -fair') == []
    assert found("tea or coffee -coffee") == ["Plastic-free tea bags now"]  # tea may still match
    assert parse_query("fair coffee -coffee").contradicts
    assert not parse_query("tea or coffee -coffee").contradicts
    assert not parse_query('coffee -"fair coffee"').contradicts  # a phrase excluded: not every match


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


def test_typos_found_on_both_engines(app):
    make_campaign(title="Fair coffee for the farmers who grow it")
    make_campaign(title="Something else entirely")
    make_campaign(title="Different things", brand=make_brand("Northwind"))
    assert found("cofee") == ["Fair coffee for the farmers who grow it"]
    assert found("nortwind") == ["Different things"]
    assert found("cofee farmers") == ["Fair coffee for the farmers who grow it"]
    # A word like no word of a title or brand name is not read as another.
    assert found("zebra") == []


def test_typos_read_against_the_words_of_titles_and_brand_names(client):
    """A word in no title or brand name, in a query that finds too little, is also read as
    the closest word of the titles and brand names (kept in step by triggers); the words
    found are the ones marked. A query that finds enough is left as typed."""
    brand = make_brand("Lumbercorp")
    make_campaign(title="Replant what you cut down", brand=brand)
    make_campaign(title="Plastic-free packaging now")
    assert found("lumbercrop") == ["Replant what you cut down"]
    brand.name = "Timberline"
    db.session.commit()
    assert found("timbreline") == ["Replant what you cut down"]
    campaign = make_campaign(title="Old title")
    campaign.title = "Protect the hedgehogs"
    db.session.commit()
    assert found("hedgehgos") == ["Protect the hedgehogs"]
    html = client.get("/campaigns/?q=plastik").get_data(as_text=True)
    assert "<mark>Plastic</mark>-free packaging now" in html
    # Five campaigns say "plastik": found as typed, not read as "plastic".
    for n in range(5):
        make_campaign(title=f"Plastik art fair {n}")
    assert sorted(found("plastik")) == [f"Plastik art fair {n}" for n in range(5)]


def test_a_word_one_edit_away_is_found_however_many_words_are_listed(app):
    """A word one letter dropped, added, changed or swapped away from a listed word is read
    as that word whatever else the list holds. "sugray" shares one trigram with "sugary"
    and three with "gray": SQLite looked only at the fifty words sharing most trigrams,
    and PostgreSQL's similarity (0.27) was under its threshold."""
    make_campaign(title="Boycott sugary cans sold to children")
    # Words sharing the typo's trigrams, none of them one edit from it.
    sharing = [f"{a}{b}gray" for a in "bdfklmnptw" for b in "aeio"]
    sharing += [f"sug{a}{b}{c}" for a in "klmnp" for b in "aeiou" for c in "tz"]
    for n in range(0, len(sharing), 10):
        make_campaign(title=" ".join(sharing[n : n + 10]), brand=make_brand(f"Brand {n}"))
    assert found("sugray") == ["Boycott sugary cans sold to children"]
    assert found("childern cnas") == ["Boycott sugary cans sold to children"]
    # One edit from no listed word, and not close to any: nothing is read for it.
    assert found("zebra") == []


def test_a_typo_among_thousands_of_campaigns_is_counted_through_the_index(app, database):
    """The typo check first counts, up to ``TYPO_BELOW``, the public campaigns the query finds.
    Written as a count under a LIMIT, PostgreSQL bet on a sequential scan stopping early; for
    a typo, which finds nothing, it read every campaign (42 ms at the bench's 100,000, once a
    mass update had bloated the table). The count is read from a materialised set of hits,
    planned for all its rows: the index, however the table looks. (The rows are like the bench's:
    with empty bodies a sequential scan is the cheaper plan for all rows too. SQLite's check
    is FTS5's; there the same search is read with fewer rows.)"""
    from sqlalchemy import insert, select

    from campaign.search import _TYPOS, typo_parameters

    template = make_campaign(title="Fair coffee for the farmers who grow it")
    table = Campaign.__table__
    row = dict(db.session.execute(select(table).where(table.c.id == template.id)).mappings().one())
    del row["id"]
    verbs = ("Stop", "Ban", "Label", "Fund", "Cut", "Protect", "Publish")
    subjects = ("plastic straws", "palm oil", "fast fashion", "lithium mining", "cage eggs", "river dumping")
    db.session.execute(
        insert(table),
        [
            {
                **row,
                "slug": f"many-{i}",
                "title": f"{verbs[i % 7]} {subjects[i % 6]} now ({i})",
                "body": "Customers have asked for this for years. The company says it cares; this is "
                "the moment to show it, in public, with dates and numbers anyone can check.",
            }
            for i in range(10_000 if database.backend == "postgresql" else 1_000)
        ],
    )
    db.session.commit()
    if database.backend == "postgresql":
        db.session.execute(text("ANALYZE campaigns"))
        db.session.execute(text("UPDATE campaigns SET momentum = momentum + 1"))  # as a refresh does
        db.session.commit()
        plan = (
            db.session.execute(
                text("EXPLAIN " + _TYPOS.text).bindparams(*_TYPOS._bindparams.values()),
                typo_parameters("cofee", ["cofee"]),
            )
            .scalars()
            .all()
        )
        db.session.rollback()
        assert not any("Seq Scan on campaigns" in line for line in plan), "\n".join(plan)
    assert found("cofee") == ["Fair coffee for the farmers who grow it"]


def test_each_test_starts_with_an_empty_word_list(app, database):
    """The word list is no model's table: emptying the database between tests empties it
    too, or one test's titles would be candidates for another's typos (a browser test read
    "sugray" as a word of earlier tests' titles)."""
    make_campaign(title="Boycott sugary cans", brand=make_brand("Umbrella Cola"))
    db.session.remove()
    database.clean()
    assert db.session.execute(text("SELECT count(*) FROM search_words")).scalar_one() == 0
    if database.backend == "sqlite":
        trigrams = db.session.execute(text("SELECT count(*) FROM search_words_trigrams")).scalar_one()
        assert trigrams == 0


def test_the_words_of_titles_and_brand_names_are_listed_without_accents(app):
    make_campaign(title="Café de comercio justo", brand=make_brand("Nestlé Águila"))
    words = set(db.session.execute(text("SELECT word FROM search_words")).scalars())
    assert {"cafe", "comercio", "justo", "nestle", "aguila"} <= words
    assert "de" not in words  # fewer than three letters
    assert found("aguilla") == ["Café de comercio justo"]


@pytest.mark.app_config(CAMPAIGNS_PER_PAGE=2)
def test_a_corrected_search_is_paged_as_corrected(client):
    """Each page reads the query the same way: the second page of a corrected search is
    the second page of the correction, though the typo alone finds nothing there."""
    for n, momentum in enumerate([3, 2, 1]):
        make_campaign(title=f"Coffee growers {n}").momentum = momentum
    db.session.commit()
    seen, pages = _listed(client, "/campaigns/?q=cofee", [f"Coffee growers {n}" for n in range(3)])
    assert seen == [f"Coffee growers {n}" for n in range(3)] and pages == 2


def test_no_typo_is_looked_for_when_the_page_shows_enough(client):
    """The page is read as typed first: a search that shows five campaigns or more never
    reads the word list."""
    for n in range(6):
        make_campaign(title=f"Coffee growers {n}")
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get("/campaigns/?q=coffee").status_code == 200
        assert not any("search_words" in s for s in statements)
        client.get("/campaigns/?q=cofee")
        assert any("search_words" in s for s in statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.mark.app_config(CAMPAIGNS_PER_PAGE=2)
def test_search_pages_show_title_matches_then_others_each_by_momentum(client):
    """Each page reads only the rows up to its end; the pages together give the order a
    search of every match gives: title or brand first, then summary and story, each by
    momentum."""
    in_brand = make_campaign(title="Replant what you cut", brand=make_brand("Forest Friends"))
    made = [in_brand]
    for n, momentum in enumerate([5, 30, 0, 12]):
        made.append(make_campaign(title=f"Forests need care ({n})"))
        made[-1].momentum = momentum
    for n, momentum in enumerate([50, 1, 7]):
        other = make_campaign(title=f"Something else ({n})")
        other.body = "Forests are cut every day."
        other.momentum = momentum
        made.append(other)
    make_campaign(title="Unrelated entirely")
    db.session.commit()
    key = lambda c: (c.momentum, c.id)  # noqa: E731
    titled = sorted([c for c in made if "Forest" in c.title or c is in_brand], key=key, reverse=True)
    others = sorted([c for c in made if c not in titled], key=key, reverse=True)
    expected = [c.title for c in titled + others]
    assert found("forest") == expected
    seen, pages = _listed(client, "/campaigns/?q=forest", [c.title for c in made])
    assert seen == expected and pages == 4


@pytest.mark.app_config(CAMPAIGNS_PER_PAGE=2)
def test_words_that_go_together_paged_whether_the_momentum_walk_finds_enough_or_not(client, monkeypatch):
    """PostgreSQL first reads campaigns in momentum order for a query of several words, and
    asks the index when too few of those matched; made to read only as many rows as the
    page needs, the walk finds enough on some pages and not on others: the order is the
    same either way, and the same on SQLite."""
    from campaign import search

    monkeypatch.setattr(search, "WALK_ROWS", 1)
    monkeypatch.setattr(search, "WALK_PER_ROW", 2)
    made = []
    for n, momentum in enumerate([90, 80, 70, 10, 60, 5, 50, 1]):
        matching = n % 3 != 1
        title = f"Clean rivers for town {n}" if matching else f"Quiet streets for town {n}"
        made.append(make_campaign(title=title))
        made[-1].momentum = momentum
        if n == 4:
            made[-1].body = "Clean rivers, said the story."
    db.session.commit()
    in_title = sorted([c for c in made if "Clean" in c.title], key=lambda c: -c.momentum)
    in_story = [c for c in made if "Clean" in c.body and c not in in_title]
    expected = [c.title for c in in_title + in_story]
    assert len(in_story) == 1 and len(expected) == 6
    assert found("clean rivers") == expected
    seen, _ = _listed(client, "/campaigns/?q=clean+rivers", [c.title for c in made])
    assert seen == expected
    seen, _ = _listed(client, "/campaigns/?q=clean+rivers+-town", [c.title for c in made])
    assert seen == []


def test_highlight_escapes_and_marks_every_form():
    marked = highlight("<b>Farmers</b> & a farmer's living", "farmer live")
    assert str(marked) == (
        "&lt;b&gt;<mark>Farmers</mark>&lt;/b&gt; &amp; a <mark>farmer</mark>&#39;s <mark>living</mark>"
    )
    assert str(highlight("<i>x</i>", "")) == "&lt;i&gt;x&lt;/i&gt;"


def test_stemming_from_many_threads_at_once():
    """Threaded web workers stem at once: each thread has its own stemmer (a shared one
    mixed up the words it was working on)."""
    from concurrent.futures import ThreadPoolExecutor

    from campaign.models import search_index

    words = [f"{stem}{n}ings" for n in range(3_000) for stem in ("farm", "work")]
    with ThreadPoolExecutor(8) as pool:
        stems = list(pool.map(search_index.english_stem, words))
    assert stems == [w[: -len("s")][: -len("ing")] for w in words]


def test_parse_query_reads_like_websearch():
    parsed = parse_query('coffee "living income" -nestle or tea -"big brand"')
    assert parsed.groups == [[("coffee",)], [("living", "income"), ("tea",)]]
    assert parsed.excluded == [("nestle",), ("big", "brand")]
    assert parse_query("a or b c").groups == [[("a",), ("b",)], [("c",)]]
    assert parse_query('"unclosed phrase').groups == [[("unclosed", "phrase")]]
    assert parse_query("").groups == [] and parse_query("-").excluded == []


# ---------------------------------------------------------------------------- browsing


def _catalogue():
    """Campaigns of every kind and state, with brands, a group, topics and countries."""
    now = utcnow()
    group = make_brand("Globex Group")
    owned = make_brand("Globex Coffee", parent=group)
    other = make_brand("Initech")
    climate = Topic(slug="climate", name="Climate", name_es="Clima")
    labour = Topic(slug="labour", name="Labour", name_es="Trabajo")
    db.session.add_all([climate, labour])
    made = []
    for n in range(8):
        kind = [CampaignKind.PETITION, CampaignKind.BOYCOTT, CampaignKind.PROPOSAL][n % 3]
        state = [CampaignState.OPEN, CampaignState.OPEN, CampaignState.WON, CampaignState.CLOSED][n % 4]
        c = make_campaign(
            kind,
            state=state,
            title=f"Campaign {'abcdefgh'[n]} about coffee",
            brand=[group, owned, other][n % 3],
        )
        c.published_at = now - timedelta(days=n)
        c.confirmed_count = 10 * (8 - n) if n % 2 else n
        c.momentum = n * 3 % 7
        c.closes_at = now + timedelta(days=8 - n) if state == CampaignState.OPEN else None
        c.won_at = now - timedelta(hours=n) if state == CampaignState.WON else None
        c.topics = [climate] if n % 2 else [labour]
        db.session.add(CountryCount(campaign_id=c.id, country="FR" if n < 4 else "ES", count=1))
        made.append(c)
    make_campaign(state=CampaignState.DRAFT, title="A draft never listed", brand=group)
    db.session.commit()
    return made, group, owned, climate


def _expected(made, sort, keep):
    rows = [c for c in made if keep(c)]
    if sort == "closing":
        rows = [c for c in rows if c.state == CampaignState.OPEN and c.closes_at]
        return [c.title for c in sorted(rows, key=lambda c: (c.closes_at, c.id))]
    if sort == "won":
        rows = [c for c in rows if c.state == CampaignState.WON]
        return [c.title for c in sorted(rows, key=lambda c: (c.won_at, c.id), reverse=True)]
    key = {
        "trending": lambda c: (c.momentum, c.id),
        "newest": lambda c: (c.published_at, c.id),
        "supported": lambda c: (c.confirmed_count, c.id),
    }[sort]
    return [c.title for c in sorted(rows, key=key, reverse=True)]


def _listed(client, url: str, titles: list[str]) -> tuple[list[str], int]:
    """The titles shown on every page of ``url``, in order, and how many pages there were."""
    seen, page = [], 1
    while True:
        response = client.get(f"{url}&page={page}")
        assert response.status_code == 200, url
        html = response.get_data(as_text=True).replace("<mark>", "").replace("</mark>", "")
        assert "A draft never listed" not in html
        seen += [t for _, t in sorted((html.index(f">{t}<"), t) for t in titles if f">{t}<" in html)]
        if 'rel="next"' not in html:
            return seen, page
        page += 1


@pytest.mark.app_config(CAMPAIGNS_PER_PAGE=3)
@pytest.mark.parametrize("sort", ["trending", "newest", "supported", "closing", "won"])
def test_every_sort_and_filter_combination_paged(client, sort):
    made, group, owned, climate = _catalogue()
    in_france = {c.id for c in made[:4]}
    filters = {
        "": lambda c: True,
        "kind=boycott": lambda c: c.kind == CampaignKind.BOYCOTT,
        "state=open": lambda c: c.state == CampaignState.OPEN,
        "state=won": lambda c: c.state == CampaignState.WON,
        "state=closed": lambda c: c.state == CampaignState.CLOSED,
        f"brand={group.slug}": lambda c: c.target_brand_id in (group.id, owned.id),
        f"brand={owned.name.upper()}": lambda c: c.target_brand_id == owned.id,
        "topic=climate": lambda c: climate in c.topics,
        "country=fr": lambda c: c.id in in_france,
        "kind=petition&state=open&topic=labour&country=FR": lambda c: (
            c.kind == CampaignKind.PETITION
            and c.state == CampaignState.OPEN
            and climate not in c.topics
            and c.id in in_france
        ),
        "q=coffee&state=open&topic=climate": lambda c: c.state == CampaignState.OPEN and climate in c.topics,
    }
    titles = [c.title for c in made]
    for query, keep in filters.items():
        want = _expected(made, sort, keep)
        seen, pages = _listed(client, f"/campaigns/?sort={sort}&{query}", titles)
        assert seen == want, (sort, query)
        assert pages == max(1, -(-len(want) // 3)), (sort, query)


@pytest.mark.parametrize("sort", ["trending", "newest", "supported", "closing", "won"])
def test_every_combination_of_filters_paged_for_each_sort(app, sort):
    """Every combination of kind, state, brand group, topic, supporters' country and a query,
    for each sort, read page after page (three a page): what a search of everything then
    filtered and sorted in Python gives. (The page above checks a few through HTTP.)"""
    made, group, owned, climate = _catalogue()
    in_france = {c.id for c in made[:4]}
    choices = {
        "kind": [None, CampaignKind.BOYCOTT, CampaignKind.PETITION],
        "state": [None, CampaignState.OPEN, CampaignState.WON, CampaignState.CLOSED],
        "brand": [None, group],
        "topic": [None, climate],
        "country": [None, "FR"],
        "query": ["", "coffee"],
    }
    keep = {
        "kind": lambda c, v: c.kind == v,
        "state": lambda c, v: c.state == v,
        "brand": lambda c, v: c.target_brand_id in (group.id, owned.id),
        "topic": lambda c, v: v in c.topics,
        "country": lambda c, v: c.id in in_france,
        "query": lambda c, v: True,  # every title says coffee
    }
    for values in itertools.product(*choices.values()):
        chosen = dict(zip(choices, values, strict=True))
        want = _expected(
            made,
            sort,
            lambda c: all(keep[k](c, v) for k, v in chosen.items() if v),  # noqa: B023
        )
        seen, page = [], 1
        while True:
            found = browse_page(
                Filters(
                    sort=sort,
                    **{k: v or None for k, v in chosen.items() if k != "query"},
                    query=chosen["query"],
                ),
                page,
                3,
            )
            seen += [c.title for c in found.items]
            if not found.has_next:
                break
            page += 1
        assert seen == want, (sort, chosen)
        assert page == max(1, -(-len(want) // 3)), (sort, chosen)


def test_bad_filters_are_explained_with_a_400(client):
    make_brand("Initrode")
    response = client.get("/campaigns/?sort=cheapest&state=draft&country=XX&topic=none")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for message in (
        "Choose a sort from the list.",
        "Choose a state from the list.",
        "Choose a country from the list.",
        "Choose a topic from the list.",
    ):
        assert message in html
    unknown = client.get("/campaigns/?brand=initrod")
    assert unknown.status_code == 400
    assert "No brand is called “initrod”." in unknown.get_data(as_text=True)
    assert ">Initrode</a>" in unknown.get_data(as_text=True)  # brands like it, to choose


def test_topic_page_and_feed(client):
    made, _group, _owned, climate = _catalogue()
    html = client.get("/topics/climate").get_data(as_text=True)
    in_topic = [c for c in made if climate in c.topics]
    assert all(f">{c.title}<" in html for c in in_topic)
    assert not any(f">{c.title}<" in html for c in made if c not in in_topic)
    assert 'type="application/atom+xml"' in html and "/topics/climate.atom" in html
    feed = client.get("/topics/climate.atom")
    assert feed.mimetype == "application/atom+xml"
    body = feed.get_data(as_text=True)
    assert body.count("<entry>") == len(in_topic)
    newest = max(in_topic, key=lambda c: c.published_at)
    assert body.index(newest.title) < min(body.index(c.title) for c in in_topic if c is not newest)
    assert client.get("/topics/nothing").status_code == 404
    assert client.get("/topics/nothing.atom").status_code == 404
    listing = client.get("/topics/").get_data(as_text=True)
    assert "/topics/climate" in listing and "/topics/labour" in listing
    spanish = client.get("/topics/climate", headers={"Accept-Language": "es"})
    assert "<h1>Clima</h1>" in spanish.get_data(as_text=True)


def test_home_trending_is_momentum_not_recency(client):
    old_busy = make_campaign(title="An older campaign gaining fast")
    old_busy.published_at = utcnow() - timedelta(days=30)
    old_busy.momentum = 40
    newest = make_campaign(title="The newest campaign, quiet")
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    trending = html.split("Trending this week")[1].split("</section>")[0]
    open_now = html.split("Open now")[1].split("</section>")[0]
    assert old_busy.title in trending and newest.title not in trending
    assert open_now.index(newest.title) < open_now.index(old_busy.title)


def test_momentum_follows_the_last_weeks_supports(app):
    from campaign.models import Support
    from campaign.services import counting
    from tests.factories import SupportFactory, every_other

    campaign = make_campaign()
    SupportFactory.create_batch(3, campaign=campaign, consents_to_updates=every_other())
    counting.fold_counts()
    db.session.refresh(campaign)
    assert campaign.momentum == 3
    # Supports age out of the week: once their days are counted as long ago (the recount
    # repairs the days from the supports), the refresh re-bases momentum on what is recent.
    db.session.execute(
        db.update(Support)
        .where(Support.campaign_id == campaign.id)
        .values(confirmed_at=utcnow() - timedelta(days=8))
    )
    db.session.commit()
    counting.recount()
    assert counting.refresh_momentum() == 1
    db.session.refresh(campaign)
    assert campaign.momentum == 0 and campaign.confirmed_count == 3
    assert counting.refresh_momentum() == 0


def _signed_and_confirmed(campaign, n: int) -> list[int]:
    from campaign.jobs.supports import support_token
    from campaign.models import Support
    from campaign.services import supports as service

    ids = []
    for i in range(n):
        result = service.add_support(
            campaign.id, name="P", email=f"m{campaign.id}.{i}@example.org", country="FR"
        )
        service.confirm(support_token("confirm-support", db.session.get(Support, result.support_id)))
        ids.append(result.support_id)
    return ids


def test_a_refresh_before_the_fold_does_not_count_a_support_twice(app):
    """Supports confirmed but not folded yet are counted by their fold, not also by a
    refresh that ran first (momentum is re-based on the folded counts per day)."""
    from campaign.services import counting

    campaign = make_campaign()
    _signed_and_confirmed(campaign, 2)
    counting.refresh_momentum()
    counting.fold_counts()
    db.session.refresh(campaign)
    assert campaign.momentum == 2 == campaign.confirmed_count
    assert counting.refresh_momentum() == 0


def test_a_support_from_before_the_week_withdrawn_leaves_momentum_as_it_is(app):
    """Momentum counts the week's supports: withdrawing one confirmed a month ago takes it
    off the count, not off the week."""
    from campaign.models import Support
    from campaign.services import counting
    from campaign.services import supports as service

    campaign = make_campaign()
    old, *_recent = _signed_and_confirmed(campaign, 3)
    counting.fold_counts()
    db.session.execute(
        db.update(Support).where(Support.id == old).values(confirmed_at=utcnow() - timedelta(days=30))
    )
    db.session.commit()
    counting.recount()  # the old support's day, a month ago
    counting.refresh_momentum()
    db.session.refresh(campaign)
    assert campaign.momentum == 2
    assert service.withdraw(old)
    counting.fold_counts()
    db.session.refresh(campaign)
    assert campaign.confirmed_count == 2 and campaign.momentum == 2
    assert counting.refresh_momentum() == 0


def test_the_momentum_job_waits_for_a_running_fold(app):
    """The refresh reads the counts per day, then writes momentum: a fold between the two
    would be undone, so its job takes the fold's lock, waiting while a fold holds it (here
    one whose lock lapses after a second), and releases it."""
    import time

    from campaign.jobs.counting import FOLD_LOCK, refresh_momentum_job
    from campaign.queue import redis_connection
    from campaign.services import counting

    campaign = make_campaign()
    _signed_and_confirmed(campaign, 2)
    counting.fold_counts()
    db.session.execute(db.update(Campaign).where(Campaign.id == campaign.id).values(momentum=0))
    db.session.commit()
    redis = redis_connection()
    assert redis.lock(FOLD_LOCK, timeout=1).acquire(blocking=False)
    started = time.monotonic()
    assert refresh_momentum_job() == 1
    assert time.monotonic() - started >= 0.8
    assert not redis.exists(FOLD_LOCK)
    db.session.refresh(campaign)
    assert campaign.momentum == 2


# ---------------------------------------------------------------------------- the API


def test_api_q_uses_the_same_search(client):
    make_campaign(title="Pay farmers a living income")
    make_campaign(title="Stop the noisy leaf blowers")
    spanish = make_campaign(title="Salarios dignos para las trabajadoras")
    spanish.language = "es"
    db.session.commit()
    data = client.get("/api/v1/campaigns?q=farmers living").get_json()
    assert [c["title"] for c in data["campaigns"]] == ["Pay farmers a living income"]
    assert data["total"] == 1
    assert [c["title"] for c in client.get("/api/v1/campaigns?q=trabajador").get_json()["campaigns"]] == [
        "Salarios dignos para las trabajadoras"
    ]
    assert client.get("/api/v1/campaigns?q=-farmers").get_json()["total"] == 2
    # A typo is read as the page reads it, and the total counts what was read.
    typo = client.get("/api/v1/campaigns?q=bloers").get_json()
    assert [c["title"] for c in typo["campaigns"]] == ["Stop the noisy leaf blowers"] and typo["total"] == 1
    bad = client.get("/api/v1/campaigns?sort=cheapest")
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "sort"
    assert client.get("/api/v1/campaigns?topic=none").get_json()["error"]["parameter"] == "topic"
    assert client.get("/api/v1/campaigns?country=XX").get_json()["error"]["parameter"] == "country"


def test_api_total_is_counted_up_to_a_cap(client, monkeypatch):
    from campaign.api import views

    for n in range(4):
        make_campaign(title=f"Clean rivers now ({n})")
    monkeypatch.setattr(views, "MAX_TOTAL", 3)
    capped = client.get("/api/v1/campaigns?q=rivers&per_page=2").get_json()
    assert (capped["total"], capped["total_exact"], len(capped["campaigns"])) == (3, False, 2)
    assert capped["next"] and not capped["prev"]
    monkeypatch.setattr(views, "MAX_TOTAL", 4)
    exact = client.get("/api/v1/campaigns?q=rivers&per_page=2&page=2").get_json()
    assert (exact["total"], exact["total_exact"], len(exact["campaigns"])) == (4, True, 2)
    assert exact["prev"] and not exact["next"]


# ---------------------------------------------------------------------------- the form


def test_brand_picker_json_shows_each_brands_group(client):
    group = make_brand("Umbrella Holdings")
    make_brand("Umbrella Cola", parent=group)
    make_brand("Aperture Foods")
    data = client.get("/campaigns/brands.json?q=umbrella").get_json()["brands"]
    assert sorted(b["name"] for b in data) == ["Umbrella Cola", "Umbrella Holdings"]
    assert {b["name"]: b["group"] for b in data} == {
        "Umbrella Cola": "Umbrella Holdings",
        "Umbrella Holdings": None,
    }
    assert client.get("/campaigns/brands.json?q=").get_json() == {"brands": []}
    assert client.get("/campaigns/brands.json?q=%25").get_json() == {"brands": []}


def test_brand_picker_finds_a_brand_a_letter_or_two_away_on_both_engines(client):
    """ "Nortwind" and "nestel" find their brands (PostgreSQL: word similarity; SQLite: the
    word read as the closest word of the listed titles and brand names); a word like no name
    finds none."""
    make_brand("Northwind Coffee")
    make_brand("Nestlé Águila")
    make_brand("Aperture Foods")

    def picked(q):
        return [b["name"] for b in client.get(f"/campaigns/brands.json?q={q}").get_json()["brands"]]

    assert picked("nortwind") == ["Northwind Coffee"]
    assert picked("nestel") == ["Nestlé Águila"]
    assert picked("northwind") == ["Northwind Coffee"]
    assert picked("zebra") == []


def test_brand_picker_without_script(client):
    from tests.factories import make_user
    from tests.helpers import login, post_form

    group = make_brand("Umbrella Holdings")
    cola = make_brand("Umbrella Cola", parent=group)
    login(client, make_user().email)
    base = {
        "title": "Less sugar in every can",
        "summary": "S",
        "body": "B",
        "goal": "100",
        "demand": "Halve the sugar.",
    }
    # A name that is no brand's lists the brands like it, keeping everything typed.
    listed = post_form(client, "/petitions/new", {**base, "brand_name": "umbrella"})
    html = listed.get_data(as_text=True)
    assert listed.status_code == 400
    assert "Choose which brand you mean from the list below." in html
    assert f'name="brand_choice" id="brand-choice-{cola.id}" value="{cola.id}"' in html
    assert "part of Umbrella Holdings" in html and 'value="Less sugar in every can"' in html
    assert "/brands/suggest?name=umbrella" in html
    # Choosing one of them saves the draft.
    chosen = post_form(
        client,
        "/petitions/new",
        {**base, "brand_name": "umbrella", "brand_choice": str(cola.id)},
        page="/petitions/new",
    )
    assert chosen.status_code == 302
    from campaign.models import Petition

    petition = db.session.execute(db.select(Petition)).scalar_one()
    assert petition.target_brand_id == cola.id and petition.language == "en"
    # The exact name (any case) is enough; a name like nothing says so.
    exact = post_form(
        client, "/petitions/new", {**base, "title": "Another can campaign", "brand_name": "UMBRELLA HOLDINGS"}
    )
    assert exact.status_code == 302
    none = post_form(client, "/petitions/new", {**base, "brand_name": "Zzyzx"})
    assert "No brand is called “Zzyzx”." in none.get_data(as_text=True)
    # The suggest page keeps the name typed.
    suggest = client.get("/brands/suggest?name=Zzyzx%20Drinks").get_data(as_text=True)
    assert 'value="Zzyzx Drinks"' in suggest


def test_topics_and_language_chosen_on_the_form(client):
    from tests.factories import make_user
    from tests.helpers import login, post_form

    brand = make_brand("Acme")
    climate, labour = Topic(slug="climate", name="Climate"), Topic(slug="labour", name="Labour")
    animals = Topic(slug="animals", name="Animals")
    health = Topic(slug="health", name="Health")
    db.session.add_all([climate, labour, animals, health])
    db.session.commit()
    login(client, make_user().email)
    base = {
        "title": "Salarios dignos en Acme",
        "summary": "S",
        "body": "B",
        "goal": "100",
        "demand": "D",
        "target_brand_id": str(brand.id),
        "language": "es",
    }
    too_many = post_form(
        client, "/petitions/new", {**base, "topics": [str(t.id) for t in (climate, labour, animals, health)]}
    )
    assert too_many.status_code == 400
    assert "Choose up to three topics." in too_many.get_data(as_text=True)
    saved = post_form(client, "/petitions/new", {**base, "topics": [str(climate.id)]}, page="/petitions/new")
    assert saved.status_code == 302
    from campaign.models import Petition

    petition = db.session.execute(db.select(Petition)).scalar_one()
    assert petition.language == "es" and [t.slug for t in petition.topics] == ["climate"]
    assert found("salario") == []  # drafts are never listed
    petition.state = CampaignState.OPEN
    db.session.commit()
    assert found("salario") == ["Salarios dignos en Acme"]


def test_similar_open_campaigns_of_every_kind_while_writing(client):
    group = make_brand("Umbrella Holdings")
    cola = make_brand("Umbrella Cola", parent=group)
    make_campaign(CampaignKind.BOYCOTT, brand=cola, title="Boycott sugary cans for kids")
    make_campaign(CampaignKind.PROPOSAL, brand=group, title="Sugar-free cans in every shop")
    make_campaign(
        CampaignKind.PETITION, brand=cola, title="Sugary drinks ads near schools", state=CampaignState.CLOSED
    )
    make_campaign(CampaignKind.PETITION, brand=make_brand("Other"), title="Sugary cans elsewhere")
    data = client.get(f"/campaigns/similar.json?brand={group.id}&title=Fewer sugary cans")
    titles = [c["title"] for c in data.get_json()["campaigns"]]
    assert sorted(titles) == ["Boycott sugary cans for kids", "Sugar-free cans in every shop"]
    assert client.get("/campaigns/similar.json?title=x").status_code == 400
    labels = {c["title"]: c["label"] for c in data.get_json()["campaigns"]}
    assert labels["Boycott sugary cans for kids"] == "0 pledges"


def test_moderators_keep_the_topics(client):
    from tests.factories import make_user
    from tests.helpers import login, post_form

    member = make_user()
    moderator = make_user(role=Role.MODERATOR)
    login(client, member.email)
    assert client.get("/moderation/topics").status_code == 403
    post_form(client, "/logout", {}, page="/account/")
    login(client, moderator.email)
    added = post_form(client, "/moderation/topics", {"name": "Animal welfare", "name_es": "Bienestar animal"})
    assert added.status_code == 302
    topic = db.session.execute(db.select(Topic)).scalar_one()
    assert (topic.slug, topic.name_es) == ("animal-welfare", "Bienestar animal")
    again = post_form(client, "/moderation/topics", {"name": "Animal Welfare"})
    assert again.status_code == 400
    assert "There is already a topic called" in again.get_data(as_text=True)
    campaign = make_campaign()
    campaign.topics = [topic]
    db.session.commit()
    removed = post_form(client, f"/moderation/topics/{topic.id}/remove", {}, page="/moderation/topics")
    assert removed.status_code == 302
    db.session.expire_all()
    assert db.session.execute(db.select(Topic)).first() is None
    assert db.session.get(type(campaign), campaign.id).topics == []
