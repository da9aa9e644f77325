"""Property-based fuzzing of every form and API input: whatever is sent, never a 500."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.models import CampaignKind
from tests.factories import make_campaign, make_user
from tests.helpers import csrf_token, login

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text that includes the awkward: control characters, NULs, huge numbers, markup, emoji.
text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\r\nBcc: x@example.org",
            "<script>alert(1)</script>",
            "=1+1",
            "9" * 40,
            "-1",
            "0",
            "nan",
            "../../etc/passwd",
            "ünïcødé ✊",
            "%",
            "_",
            "\\",
        ]
    ),
)


def fields(*names):
    return st.fixed_dictionaries({name: text for name in names})


FORMS = {
    "/signup": ("name", "email", "password", "confirm"),
    "/login": ("email", "password", "remember"),
    "/reset": ("email",),
    "/verify-email": ("email",),
}


@pytest.mark.parametrize("url", sorted(FORMS))
def test_account_forms_never_fail(client, url):
    token = csrf_token(client, url)

    @FUZZ
    @given(data=fields(*FORMS[url]))
    def run(data):
        response = client.post(url, data={"csrf_token": token, **data})
        assert response.status_code < 500

    run()


@pytest.mark.parametrize("kind", list(CampaignKind))
def test_support_forms_never_fail(client, kind):
    campaign = make_campaign(kind)
    page = f"/{campaign.blueprint}/{campaign.slug}"
    token = csrf_token(client, page)

    @FUZZ
    @given(
        data=fields(
            "name",
            "email",
            "country",
            "postcode",
            "comment",
            "monthly_spend",
            "condition_threshold",
            "pledged_brands",
            "is_public",
            "consents_to_updates",
        )
    )
    def run(data):
        response = client.post(f"{page}/support", data={"csrf_token": token, **data})
        assert response.status_code < 500

    run()


@pytest.mark.parametrize("kind", ["petitions", "boycotts", "buycotts", "proposals"])
def test_campaign_forms_never_fail(client, kind):
    login(client, make_user().email)
    token = csrf_token(client, "/account/")

    @FUZZ
    @given(
        data=fields(
            "title",
            "summary",
            "body",
            "goal",
            "closes_on",
            "answer_by",
            "target_brand_id",
            "brand_name",
            "brand_choice",
            "language",
            "topics",
            "demand",
            "demands",
            "scope",
            "endorsed_brands",
            "reason",
            "evidence_on",
        )
    )
    def run(data):
        response = client.post(f"/{kind}/new", data={"csrf_token": token, **data})
        assert response.status_code < 500

    run()


def test_api_and_search_parameters_never_fail(client):
    make_campaign()

    @FUZZ
    @given(
        params=st.dictionaries(
            st.sampled_from(
                [
                    "kind",
                    "state",
                    "brand",
                    "q",
                    "page",
                    "per_page",
                    "sort",
                    "topic",
                    "country",
                    "title",
                    "exclude",
                ]
            ),
            text,
            max_size=8,
        )
    )
    def run(params):
        for url in (
            "/api/v1/campaigns",
            "/campaigns/",
            "/verify",
            "/proposals/similar.json",
            "/campaigns/similar.json",
            "/campaigns/brands.json",
            "/topics/",
        ):
            response = client.get(url, query_string=params)
            assert response.status_code < 500, url
            if url.startswith("/api/"):
                assert response.is_json

    run()


def test_slugs_and_tokens_in_paths_never_fail(client):
    @FUZZ
    @given(part=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80))
    def run(part):
        from urllib.parse import quote

        piece = quote(part, safe="")
        for url in (
            f"/petitions/{piece}",
            f"/supports/confirm/{piece}",
            f"/api/v1/campaigns/{piece}/count.json",
            f"/deliveries/{piece}",
            f"/brands/{piece}",
        ):
            assert client.get(url).status_code < 500, url

    run()


MODERATOR_FORMS = {
    "/moderation/signing/rules": ("kind", "action", "value", "note"),
    "/moderation/signing/invalidate": (
        "campaign",
        "ip",
        "domain",
        "since",
        "until",
        "reason",
        "preview",
        "confirm",
        "stall",
    ),
    "/moderation/signing/release": (
        "campaign",
        "ip",
        "domain",
        "since",
        "until",
        "reason",
        "preview",
        "confirm",
        "stall",
        "held_reason",
        "support",
    ),
}


@pytest.mark.parametrize("url", sorted(MODERATOR_FORMS))
def test_moderator_forms_never_fail(client, url):
    from campaign.models import Role

    make_campaign()
    login(client, make_user(role=Role.MODERATOR).email)
    token = csrf_token(client, url)

    @FUZZ
    @given(data=fields(*MODERATOR_FORMS[url]))
    def run(data):
        response = client.post(url, data={"csrf_token": token, **data})
        assert response.status_code < 500

    run()
