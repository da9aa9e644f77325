"""What the route walks share: the campaign kinds' blueprints and a URL for any route."""

from __future__ import annotations

import re

from campaign.kinds import KINDS

KIND_NAMES = tuple(kind.name for kind in KINDS.values())


def _keys(world) -> dict:
    """The slugs and ids of ``world``'s objects, read once: each request the walk makes
    commits the test's session, which expires the objects, and reading an attribute of an
    expired object is a query."""
    if "keys" not in world:
        world["keys"] = {
            "campaigns": {kind: (c.slug, c.id) for kind, c in world["campaigns"].items()},
            **{name: world[name].id for name in ("brand", "comment", "support", "delivery")},
            "brand_slug": world["brand"].slug,
        }
    return world["keys"]


def url_for_rule(rule, world) -> str:
    keys = _keys(world)
    kind = rule.endpoint.split(".")[0]
    slug, campaign_id = keys["campaigns"].get(kind, keys["campaigns"]["petitions"])
    values = {
        "slug": keys["brand_slug"] if rule.endpoint.startswith("brands.") else slug,
        "token": "forged-token",
        "campaign_id": campaign_id,
        "brand_id": keys["brand"],
        "member_id": 1,
        "comment_id": keys["comment"],
        "support_id": keys["support"],
        "delivery_id": keys["delivery"],
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
