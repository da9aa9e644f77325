"""Each kind has the routes it can use and no other, read from ``app.url_map``.

What a kind does is said once, in its definition (``campaign/<kind>s/kind.py``): a kind that
delivers has the delivery routes, a kind that escalates has ``escalate``, and a route only
one kind has belongs to that kind's package. Any other kind answers such a URL with 404,
never with a page or a flashed "this kind cannot".
"""

from __future__ import annotations

import re
from collections import defaultdict

from campaign.kinds import KINDS
from tests.factories import make_brand, make_campaign, make_user
from tests.helpers import csrf_token, login

#: Routes a kind has because its definition says what it does.
FROM_DEFINITION = {
    "deliver": lambda kind: kind.delivers,
    "retry_delivery": lambda kind: kind.delivers,
    "escalate": lambda kind: kind.escalates_to is not None,
}
#: Routes only one kind has, from its own package's views.
OWN = {
    "boycotts": {"thank_you_buycott"},
    "buycotts": {"renew_endorsement"},
    "proposals": {"similar", "comment", "invite", "set_status"},
    "petitions": set(),
}


def kind_rules(app) -> dict[str, dict[str, object]]:
    """{kind name: {view name: rule}} for every kind blueprint."""
    rules: dict[str, dict[str, object]] = defaultdict(dict)
    names = {kind.name for kind in KINDS.values()}
    for rule in app.url_map.iter_rules():
        blueprint, _, view = rule.endpoint.partition(".")
        if blueprint in names:
            rules[blueprint][view] = rule
    return rules


def test_every_kind_has_its_blueprint(app):
    assert set(kind_rules(app)) == {kind.name for kind in KINDS.values()}


def test_a_kind_has_only_the_routes_its_definition_and_package_give(app):
    rules = kind_rules(app)
    shared = set.intersection(*(set(views) for views in rules.values()))
    assert {"show", "new", "edit", "support", "supporters", "close"} <= shared
    for kind in KINDS.values():
        own = set(rules[kind.name]) - shared
        from_definition = {view for view, has in FROM_DEFINITION.items() if has(kind)}
        assert own == from_definition | OWN[kind.name], kind.name


def test_the_routes_every_kind_has_are_not_kind_specific(app):
    rules = kind_rules(app)
    shared = set.intersection(*(set(views) for views in rules.values()))
    assert not shared & (set(FROM_DEFINITION) | set().union(*OWN.values()))


def test_no_kind_answers_a_route_it_cannot_use(app, client):
    """Every kind route of one kind, asked of a campaign of each kind without it, is 404
    (e.g. a buycott's /buycotts/<slug>/deliver), even for the campaign's organiser."""
    organiser = make_user("organiser@example.org")
    brand = make_brand("Acme")
    campaigns = {
        kind.name: make_campaign(kind.value, organiser=organiser, brand=brand) for kind in KINDS.values()
    }
    login(client, organiser.email)
    token = csrf_token(client, "/account/")
    rules = kind_rules(app)
    asked = 0
    for owner, views in rules.items():
        for view, rule in views.items():
            for kind in KINDS.values():
                if view in rules[kind.name]:
                    continue
                campaign = campaigns[kind.name]
                path = rule.rule.replace(f"/{owner}/", f"/{kind.name}/", 1)
                path = path.replace("<slug>", campaign.slug)
                path = re.sub(r"<int:\w+>", "1", path)
                for method in sorted(rule.methods & {"GET", "POST"}):
                    data = {"csrf_token": token, "confirmed": "yes"} if method == "POST" else None
                    response = client.open(path, method=method, data=data)
                    assert response.status_code == 404, (path, method, response.status_code)
                    asked += 1
    # Delivery (2 routes) and escalation for the kinds without them, and each kind's own.
    assert asked >= 10
