"""What the route walks share: the campaign kinds' blueprints and a URL for any route."""

from __future__ import annotations

import re

from campaign.kinds import KINDS

KIND_NAMES = tuple(kind.name for kind in KINDS.values())


def url_for_rule(rule, world) -> str:
    kind = rule.endpoint.split(".")[0]
    campaign = world["campaigns"].get(kind, world["campaigns"]["petitions"])
    values = {
        "slug": world["brand"].slug if rule.endpoint.startswith("brands.") else campaign.slug,
        "token": "forged-token",
        "campaign_id": campaign.id,
        "brand_id": world["brand"].id,
        "member_id": 1,
        "comment_id": world["comment"].id,
        "support_id": world["support"].id,
        "delivery_id": world["delivery"].id,
        "invitation_id": 1,
        "response_id": 1,
        "endorsement_id": 1,
        "rule_id": 1,
        "stall_id": 1,
        "size": 1,
        "code": "en",
        "topic_id": 1,
        "name": "signatures.csv" if "download" in rule.endpoint else "x.eml",
    }
    url = rule.rule
    for name in re.findall(r"<(?:[^:<>]+:)?(\w+)>", url):
        url = re.sub(r"<(?:[^<>]+:)?" + name + ">", str(values[name]), url)
    return url
