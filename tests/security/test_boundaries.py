"""Walk every route in ``app.url_map`` with boundary inputs: never a 500.

Every integer in a path (each ``<int:…>`` converter) and every integer query or form
parameter the code reads gets 0, -1, 2^31, 2^63 and 2^64; every route gets CR/LF in its
redirect target (``next``). A new route or parameter is covered without a new test.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter

import campaign
from campaign.extensions import db
from campaign.models import BrandMember, Role, User, utcnow
from tests.helpers import csrf_token, login
from tests.security.walk import url_for_rule

BOUNDARIES = (0, -1, 2**31, 2**63, 2**64)
# CR and LF both: a fix that drops one of them still fails the Location check below.
REDIRECT_TARGET = "/a\r\nLocation: https://evil.example"

_SOURCE = Path(campaign.__file__).parent
_READS = (
    re.compile(r'args\.get\(\s*"(\w+)"[^)\n]*type='),  # request.args.get("brand", type=…)
    re.compile(r'_int_arg\(\s*"(\w+)"'),  # the API's bounded integers
    re.compile(r"^\s*(\w+)\s*=\s*IntegerField\(", re.M),  # integer form fields
    re.compile(r"^\s*(\w+_id)\s*=\s*(?:HiddenField|SelectField|IntegerField)\(", re.M),
)


def integer_parameters() -> set[str]:
    """Every integer query or form parameter the application reads, found in its source."""
    names: set[str] = set()
    for path in _SOURCE.rglob("*.py"):
        text = path.read_text()
        for pattern in _READS:
            names.update(pattern.findall(text))
    return names


def test_the_walk_finds_the_integer_parameters():
    # If the source's shapes change, the walk must not quietly try nothing.
    assert {"brand", "exclude", "page", "per_page", "parent_id", "goal"} <= integer_parameters()


def _integer_arguments(rule) -> list[str]:
    return [name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]


def _merge(template: str, url: str, name: str, value) -> str:
    """``url`` (``template`` filled) with the segment holding ``name`` replaced by ``value``."""
    template_parts, url_parts = template.split("/"), url.split("/")
    return "/".join(
        str(value) if re.fullmatch(r"<(?:[^:<>]+:)?" + name + ">", t) else u
        for t, u in zip(template_parts, url_parts, strict=True)
    )


@pytest.fixture
def insider(app, client, world):
    """The world's owner, made a moderator and a verified member of its brand, logged in: the
    walk reaches the code behind every access check."""
    owner = db.session.execute(db.select(User).filter_by(email="owner@example.org")).scalar_one()
    owner.role = Role.MODERATOR
    db.session.add(BrandMember(brand_id=world["brand"].id, user_id=owner.id, verified_at=utcnow()))
    db.session.commit()
    login(client, owner.email)
    return client


def _rules(app):
    # Logging out would end the walk's session half-way; it takes no integer and no target.
    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in ("static", "auth.logout")]
    return sorted(rules, key=lambda r: (r.rule, sorted(r.methods)))


#: Each walk is this many tests, every PARTS-th rule from each start, so that the test
#: processes share it.
PARTS = 3

#: Readers of integers the noting must see (the browse filters, the API's paging, a form's
#: integer field): if it saw none of them, the walk would prune every rule.
NOTED_READERS = {
    ("campaigns.browse", "GET"),
    ("api.campaigns", "GET"),
    ("petitions.new", "POST"),
    ("brands.new", "POST"),
}


#: The names a request's query or form data was asked for (by ``get``, ``[]``, ``in``…).
_LOOKED_UP: set[str] = set()


class _NotedLookups(ImmutableMultiDict):
    """Query or form data that notes each name a view (or its form) looks up."""

    def __getitem__(self, key):  # get() and type= conversions come through here
        _LOOKED_UP.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):  # how WTForms asks whether a field was sent
        _LOOKED_UP.add(key)
        return super().__contains__(key)

    def getlist(self, key, type=None):
        _LOOKED_UP.add(key)
        return super().getlist(key, type)


@contextlib.contextmanager
def noting_lookups(app):
    """Requests to ``app`` note the query and form names they look up, in ``_LOOKED_UP``."""
    own = vars(app).get("request_class")
    noting = {"parameter_storage_class": _NotedLookups}
    app.request_class = type("NotingRequest", (app.request_class,), noting)
    try:
        yield
    finally:
        if own is None:
            del app.request_class
        else:
            app.request_class = own


@pytest.mark.parametrize("part", range(PARTS))
def test_boundary_integers_never_fail(app, insider, world, part):
    """Every value on every rule. A rule with no integer in its path whose view looked up none
    of the integer parameters with the first value (0) gets the same request, as far as its
    code can see, with the other four: those are not sent again."""
    token = csrf_token(insider, "/account/")
    params = integer_parameters()
    rules = _rules(app)[part::PARTS]
    tried, every_value = 0, set()
    with noting_lookups(app):
        for rule in rules:
            arguments = _integer_arguments(rule)
            for method in sorted(rule.methods & {"GET", "POST"}):
                for value in BOUNDARIES:
                    ints = {name: str(value) for name in params}
                    urls = [
                        _merge(rule.rule, url_for_rule(rule, world), name, value) for name in arguments
                    ] or [url_for_rule(rule, world)]
                    _LOOKED_UP.clear()
                    for url in urls:
                        data = {"csrf_token": token, **ints} if method == "POST" else None
                        response = insider.open(url, method=method, query_string=ints, data=data)
                        assert response.status_code < 500, (rule.endpoint, method, url, value)
                        tried += 1
                    if not arguments and not _LOOKED_UP & params:
                        break  # the view read none of the values: the others change nothing it sees
                else:
                    every_value.add((rule.endpoint, method))
    assert tried > 2 * len(rules)
    # The noting sees the readers this part walks.
    walked = {(rule.endpoint, method) for rule in rules for method in rule.methods}
    assert NOTED_READERS & walked <= every_value


def test_every_noted_reader_is_walked(app):
    walked = {(rule.endpoint, method) for rule in _rules(app) for method in rule.methods}
    assert NOTED_READERS <= walked


@pytest.mark.parametrize("part", range(PARTS))
def test_line_breaks_in_redirect_targets_never_fail(app, insider, world, part):
    token = csrf_token(insider, "/account/")
    for rule in _rules(app)[part::PARTS]:
        url = url_for_rule(rule, world)
        for method in sorted(rule.methods & {"GET", "POST"}):
            data = {"csrf_token": token, "next": REDIRECT_TARGET} if method == "POST" else None
            response = insider.open(url, method=method, query_string={"next": REDIRECT_TARGET}, data=data)
            assert response.status_code < 500, (rule.endpoint, method)
            location = response.headers.get("Location", "")
            assert "\n" not in location and "\r" not in location, rule.endpoint


def test_the_language_switch_refuses_a_target_with_a_line_break(client):
    response = client.get("/language/en?next=/a%0Ab")
    assert response.status_code == 302 and response.headers["Location"] == "/"
