"""Links in templates: those the same on every page are built once per process and site root,
and are what ``url_for`` builds."""

from flask import render_template_string, url_for

from campaign.urls import template_url_for

LINKS = [
    ("main.home", {}),
    ("campaigns.browse", {}),
    ("static", {"filename": "css/app.css"}),
    ("static", {"filename": "img/favicon.svg"}),
    ("auth.login", {"next": "/petitions/x"}),
    ("petitions.show", {"slug": "pay-farmers"}),
    ("main.home", {"_external": True}),
    ("static", {"filename": "js/csrf.js", "_external": True}),
]


def test_template_links_are_url_for_s_under_each_site_root(app):
    for root in ("", "/campaigns"):
        for host in ("localhost", "127.0.0.1"):
            with app.test_request_context("/", base_url=f"http://{host}{root}/"):
                for endpoint, values in LINKS:
                    expected = url_for(endpoint, **values)
                    assert template_url_for(endpoint, **values) == expected  # built
                    assert template_url_for(endpoint, **values) == expected  # remembered
                home = render_template_string("{{ url_for('static', filename='css/app.css') }}")
                assert home == f"{root}/static/css/app.css"


def test_outside_a_request_links_are_built_as_url_for_builds_them(app):
    app.config["SERVER_NAME"] = "groundswell.example"
    with app.app_context():
        assert template_url_for("main.home") == url_for("main.home") == "http://groundswell.example/"
