"""The public JSON API: filters, paging, counts, and JSON errors."""

from campaign.models import CampaignKind, CampaignState
from campaign.services import counting
from tests.factories import SupportFactory, every_other, make_brand, make_campaign


def test_campaign_list_filters_and_pages(client):
    brand = make_brand("Acme")
    for n in range(3):
        make_campaign(CampaignKind.PETITION, brand=brand, title=f"Acme petition number {n}")
    make_campaign(CampaignKind.BOYCOTT, title="Boycott somebody else")
    make_campaign(CampaignKind.PETITION, state=CampaignState.DRAFT, title="Hidden draft petition")
    data = client.get("/api/v1/campaigns").get_json()
    assert data["total"] == 4
    assert "Hidden draft petition" not in {c["title"] for c in data["campaigns"]}
    page = client.get("/api/v1/campaigns?kind=petition&per_page=2").get_json()
    assert page["total"] == 3 and len(page["campaigns"]) == 2 and page["next"]
    assert all(c["kind"] == "petition" for c in page["campaigns"])
    rest = client.get(page["next"].replace("http://localhost", "")).get_json()
    assert len(rest["campaigns"]) == 1 and rest["next"] is None
    by_brand = client.get(f"/api/v1/campaigns?brand={brand.slug}&q=number 1").get_json()
    assert [c["title"] for c in by_brand["campaigns"]] == ["Acme petition number 1"]


def test_bad_parameters_are_json_400s(client):
    for query, parameter in [
        ("kind=poll", "kind"),
        ("page=0", "page"),
        ("per_page=1000", "per_page"),
        ("page=x", "page"),
        ("state=draft", "state"),
        ("brand=nope", "brand"),
    ]:
        response = client.get(f"/api/v1/campaigns?{query}")
        assert response.status_code == 400, query
        assert response.is_json and response.get_json()["error"]["parameter"] == parameter


def test_campaign_detail_and_count(app, client, run_jobs):
    petition = make_campaign(goal=100)
    SupportFactory.create_batch(3, campaign=petition, consents_to_updates=every_other())
    counting.fold_counts()
    data = client.get(f"/api/v1/campaigns/{petition.slug}").get_json()
    assert data["campaign"]["count"] == 3
    assert data["counts_by_country"] == {"GB": 3}
    count = client.get(f"/api/v1/campaigns/{petition.slug}/count.json")
    assert count.get_json() == {"slug": petition.slug, "count": 3, "goal": 100}
    assert "max-age=2" in count.headers["Cache-Control"]


def test_unknown_and_unpublished_are_json_404s(client):
    draft = make_campaign(state=CampaignState.DRAFT)
    for url in (
        f"/api/v1/campaigns/{draft.slug}",
        "/api/v1/campaigns/nope/count.json",
        "/api/v1/nothing-here",
    ):
        response = client.get(url)
        assert response.status_code == 404 and response.is_json
        assert response.get_json()["error"]["status"] == 404
    response = client.post("/api/v1/campaigns")
    assert response.status_code in (400, 405) and response.is_json


def test_the_list_reads_the_brands_of_every_campaign_in_a_fixed_number_of_queries(client):
    """A buycott names the brands it endorses: read for the whole page at once, not one
    query per buycott listed."""
    import re

    from sqlalchemy import event

    from campaign.extensions import db

    def statements_for_a_page() -> tuple[int, list[dict]]:
        seen = []

        def read(_connection, _cursor, statement, *_):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", read)
        try:
            body = client.get("/api/v1/campaigns?kind=buycott&per_page=50").get_json()
        finally:
            event.remove(db.engine, "before_cursor_execute", read)
        return len([s for s in seen if re.search(r"\bFROM\b", s)]), body["campaigns"]

    for n in range(2):
        make_campaign(CampaignKind.BUYCOTT, brand=make_brand(f"Endorsed {n}"))
    few, listed = statements_for_a_page()
    assert sorted(c["brands"][0]["name"] for c in listed) == ["Endorsed 0", "Endorsed 1"]
    for n in range(2, 8):
        make_campaign(CampaignKind.BUYCOTT, brand=make_brand(f"Endorsed {n}"))
    many, listed = statements_for_a_page()
    assert sorted(c["brands"][0]["name"] for c in listed) == [f"Endorsed {n}" for n in range(8)]
    assert many == few, (few, many)
