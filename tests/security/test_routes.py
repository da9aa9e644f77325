"""Walk every route in ``app.url_map``: each is classified, and strangers are refused.

A new route that is not listed in ACCESS fails ``test_every_route_is_classified``, so nobody
can add a page without deciding who may use it.
"""

from __future__ import annotations

import pytest

from campaign.extensions import db
from campaign.kinds import KINDS
from campaign.models import (
    BrandMember,
    CampaignState,
    Role,
    utcnow,
)
from tests.factories import make_brand, make_campaign, make_user
from tests.helpers import csrf_token, login
from tests.security.walk import KIND_NAMES, url_for_rule

# Who may use each endpoint. {kind} stands for each campaign kind's blueprint.
ACCESS = {
    "public": [
        "main.home",
        "main.victories",
        "campaigns.browse",
        "campaigns.by_slug",
        "campaigns.choose_kind",
        "api.campaigns",
        "api.campaign",
        "api.count",
        "brands.index",
        "brands.show",
        "brands.roadmap",
        "deliveries.verify",
        "proposals.similar",
        "{kind}.show",
        "{kind}.supporters_csv",
        "{kind}.support",
        "{kind}.share_png",
        "{kind}.updates_feed",
        "{kind}.embed",
        "main.victories_feed",
        "supports.thanks",
        "auth.login",
        "auth.signup",
        "auth.check_email",
        "auth.logout",
        "privacy.request_link",
        "supports.form_token",
        "auth.request_reset",
        "auth.resend_verification",
        "dev.outbox",
        "dev.message",
        "i18n.set_language",
        "deliveries.keys",
        "deliveries.log_json",
        "deliveries.log_head",
        "deliveries.log_consistency",
        "deliveries.log_atom",
        "deliveries.verifier_script",
        "main.health",
        "media.file",
        "{kind}.reasons",
        "{kind}.report_reason",
        "dev.message_html",
        "campaigns.similar",
        "campaigns.brands",
        "topics.index",
        "topics.show",
        "topics.feed",
    ],
    "member": [
        "accounts.profile",
        "accounts.pledges",
        "accounts.settings",
        "{kind}.new",
        "brands.suggest",
        "brands.claim",
        "auth.resend_mine",
        "community.report_comment",
        "community.accept_coauthorship",
        "proposals.comment",
        "supports.withdraw_mine",
        "deliveries.my_receipt",
        "deliveries.my_receipt_json",
        "{kind}.like_reason",
    ],
    "organiser": [
        "{kind}.edit",
        "{kind}.submit",
        "{kind}.contacts_csv",
        "{kind}.declare_victory",
        "{kind}.post_update",
        "{kind}.raise_goal",
        "{kind}.supporters",
        "{kind}.close",
        "proposals.invite",
        # Only the kinds whose definition says they deliver, escalate... have these.
        *(f"{k.name}.{view}" for k in KINDS.values() if k.delivers for view in ("deliver", "retry_delivery")),
        *(f"{k.name}.escalate" for k in KINDS.values() if k.escalates_to),
        "boycotts.thank_you_buycott",
        "buycotts.renew_endorsement",
        "{kind}.stalls",
        "{kind}.close_stall",
        "{kind}.picture",
        "{kind}.remove_picture",
        "{kind}.feature_reason",
        "{kind}.launch_kit",
        "{kind}.qr_png",
        "{kind}.poster_pdf",
    ],
    "moderator": [
        "moderation.queue",
        "moderation.review",
        "moderation.approve",
        "moderation.reject",
        "moderation.approve_brand",
        "moderation.approve_claim",
        "moderation.hide_comment",
        "moderation.reject_brand",
        "moderation.reject_claim",
        "moderation.dismiss_reports",
        "moderation.hide_campaign",
        "moderation.signing",
        "moderation.rules",
        "moderation.delete_rule",
        "moderation.invalidate",
        "moderation.release",
        "moderation.held",
        "moderation.decisions",
        "moderation.remove_picture",
        "moderation.hide_reason",
        "moderation.topics",
        "moderation.remove_topic",
        "brands.new",
        "brands.edit",
        "brands.add_certification",
    ],
    "brand_member": ["brands.inbox", "proposals.set_status", "brands.logo", "brands.remove_logo"],
    "token": [
        "privacy.show",
        "privacy.download",
        "privacy.erase",
        "deliveries.show",
        "deliveries.download",
        "deliveries.verdict",
        "supports.confirm",
        "supports.unsubscribe",
        "supports.withdraw",
        "supports.stall",
        "auth.verify",
        "auth.reset_password",
        "brands.verify_claim",
        "accounts.unsubscribe",
        "deliveries.receipt",
        "deliveries.receipt_json",
    ],
}
#: POSTs that must work without a CSRF token (RFC 8058 one-click unsubscribe from mail clients).
CSRF_EXEMPT = {"supports.unsubscribe", "accounts.unsubscribe"}


def expand(names: list[str]) -> set[str]:
    return {n.format(kind=k) for n in names for k in KIND_NAMES} | {n for n in names if "{" not in n}


def endpoints_of(access: str) -> set[str]:
    return {e for e in expand(ACCESS[access]) if "{" not in e}


def test_every_route_is_classified(app):
    known = set().union(*(endpoints_of(a) for a in ACCESS))
    routed = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert routed - known == set(), "classify these new routes in ACCESS"
    assert known - routed == set(), "these classified routes no longer exist"


def rules_of(app, access: str):
    wanted = endpoints_of(access)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint in wanted]
    assert len(rules) == len(wanted), f"routes of {access} not found"
    return rules


def test_every_post_without_a_csrf_token_is_refused(app, client, world):
    login(client, "owner@example.org")
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint in CSRF_EXEMPT:
            continue
        response = client.post(url_for_rule(rule, world), data={})
        assert response.status_code == 400, rule.endpoint
        assert "expired or came from another site" in response.get_data(as_text=True)


def _token(client, page: str = "/account/") -> str:
    """The session's CSRF token, read from a page once per client: it lasts the session, and
    no refused request of these walks ends it."""
    if not hasattr(client, "walk_csrf_token"):
        client.walk_csrf_token = csrf_token(client, page)
    return client.walk_csrf_token


def _open(client, rule, world, method):
    data = {"csrf_token": _token(client)} if method == "POST" else None
    return client.open(url_for_rule(rule, world), method=method, data=data)


@pytest.mark.parametrize("access", ["member", "organiser", "moderator", "brand_member"])
def test_anonymous_visitors_are_sent_to_log_in(app, client, world, access):
    for rule in rules_of(app, access):
        for method in sorted(rule.methods & {"GET", "POST"}):
            data = {"csrf_token": _token(client, "/login")} if method == "POST" else None
            response = client.open(url_for_rule(rule, world), method=method, data=data)
            assert response.status_code == 302, (rule.endpoint, method)
            assert response.headers["Location"].startswith("/login?next="), rule.endpoint


def test_a_stranger_is_refused_every_organiser_route(app, client, world):
    login(client, make_user("stranger@example.org").email)
    for rule in rules_of(app, "organiser"):
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = _open(client, rule, world, method)
            assert response.status_code == 403, (rule.endpoint, method)


def test_the_wrong_organiser_is_refused_too(app, client, world):
    other_organiser = make_user("other@example.org")
    make_campaign(organiser=other_organiser)  # organiser of something else
    login(client, other_organiser.email)
    for rule in rules_of(app, "organiser"):
        for method in sorted(rule.methods & {"GET", "POST"}):
            assert _open(client, rule, world, method).status_code == 403, rule.endpoint


def test_members_are_refused_every_moderator_route(app, client, world):
    login(client, make_user("member@example.org").email)
    for rule in rules_of(app, "moderator"):
        for method in sorted(rule.methods & {"GET", "POST"}):
            assert _open(client, rule, world, method).status_code == 403, rule.endpoint


def test_members_of_another_brand_are_refused_every_brand_route(app, client, world):
    other = make_brand("Other")
    member = make_user("member@example.org")
    db.session.add(BrandMember(brand_id=other.id, user_id=member.id, verified_at=utcnow()))
    db.session.commit()
    login(client, member.email)
    for rule in rules_of(app, "brand_member"):
        for method in sorted(rule.methods & {"GET", "POST"}):
            assert _open(client, rule, world, method).status_code == 403, rule.endpoint


def test_forged_tokens_open_nothing(app, client, world):
    for rule in rules_of(app, "token"):
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = _open(client, rule, world, method)
            assert response.status_code in (400, 403, 404), (rule.endpoint, method)


def test_moderators_may_use_their_routes(app, client, world):
    login(client, make_user(role=Role.MODERATOR).email)
    assert client.get("/moderation/").status_code == 200
    assert client.get("/brands/new").status_code == 200


def test_private_campaigns_never_leak(app, client):
    draft = make_campaign(state=CampaignState.DRAFT, title="A secret draft campaign")
    pending = make_campaign(state=CampaignState.PENDING, title="A pending campaign")
    for campaign in (draft, pending):
        for url in (
            f"/petitions/{campaign.slug}",
            f"/petitions/{campaign.slug}/supporters.csv",
            f"/api/v1/campaigns/{campaign.slug}",
            f"/api/v1/campaigns/{campaign.slug}/count.json",
        ):
            assert client.get(url).status_code == 404, url
    for url in (
        "/",
        "/campaigns/",
        "/api/v1/campaigns",
        f"/brands/{draft.target_brand.slug}",
        f"/brands/{draft.target_brand.slug}/roadmap",
        "/victories",
    ):
        text = client.get(url).get_data(as_text=True)
        assert "secret draft" not in text and "A pending campaign" not in text, url
