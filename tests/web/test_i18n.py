"""Languages: complete catalogues, the browser's language, the switcher, locale formats."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from campaign.config import ROOT
from campaign.extensions import db
from campaign.i18n import COOKIE, LANGUAGES
from campaign.jobs.supports import support_token
from campaign.models import CampaignKind, Support, User, utcnow
from tests.factories import SupportFactory, make_campaign, make_user
from tests.helpers import body_text, login, post_form

TRANSLATIONS = ROOT / "campaign" / "translations"
OTHER_LANGUAGES = [code for code in LANGUAGES if code != "en"]
#: The keywords `make translations` passes to pybabel besides its defaults.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


def catalogue(code: str):
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=code)


def extracted_msgids() -> set[str]:
    """What `make translations` would extract today (babel.cfg, the same keywords)."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)

    def only_sources(path: str) -> bool:
        relative = Path(path).relative_to(ROOT).parts
        return not relative or relative[0] in ("campaign", "templates")

    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, directory_filter=only_sources
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def as_key(value):
    return value if isinstance(value, str) else tuple(value)


def translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple | list) else [message.string]
    return all(strings) and not message.fuzzy


@pytest.mark.parametrize("code", OTHER_LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(code):
    untranslated = [m.id for m in catalogue(code) if m.id and not translated(m)]
    assert untranslated == [], f"translate these in {code}/LC_MESSAGES/messages.po"


@pytest.mark.parametrize("code", OTHER_LANGUAGES)
def test_translations_keep_the_placeholders(code):
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalogue(code).check()]
    assert problems == []


@pytest.mark.parametrize("code", OTHER_LANGUAGES)
def test_every_marked_string_is_in_the_catalogue(code):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(code) if m.id}
    missing = extracted_msgids() - ids
    assert missing == set(), "run `make translations`, then translate the new entries"


@pytest.mark.parametrize("code", OTHER_LANGUAGES)
def test_compiled_catalogue_matches_its_source(code):
    mo_path = TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo"
    assert mo_path.exists(), "compile the catalogues: `make install`"
    with open(mo_path, "rb") as f:
        compiled = {as_key(m.id): as_key(m.string) for m in read_mo(f) if m.id}
    source = {as_key(m.id): as_key(m.string) for m in catalogue(code) if m.id and translated(m)}
    assert compiled == source, "the .mo is stale: `make install` compiles it again"


def test_extraction_finds_marked_strings_of_every_source_kind():
    found = extracted_msgids()
    assert "Skip to content" in found  # a template
    assert "Pledge to stop buying" in found  # lazy_gettext in a model


def test_english_is_the_default(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Start a campaign" in html
    assert "Accept-Language" in response.headers["Vary"]


def test_the_language_follows_the_browser(client):
    campaign = make_campaign(CampaignKind.PETITION)
    html = client.get(
        f"/petitions/{campaign.slug}", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}
    ).get_data(as_text=True)
    assert '<html lang="es">' in html
    assert "Firmar" in html
    assert "Iniciar una campaña" in html
    assert "Start a campaign" not in html
    english = client.get(
        f"/petitions/{campaign.slug}", headers={"Accept-Language": "fr-FR,fr;q=0.9"}
    ).get_data(as_text=True)
    assert '<html lang="en">' in english and "Start a campaign" in english


def test_the_switcher_is_a_plain_link_on_every_page(client):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/language/es?next=/"' in html
    assert 'lang="es" hreflang="es"' in html and ">Español</a>" in html
    assert 'href="/language/en?next=/" lang="en" hreflang="en" aria-current="true"' in html


def test_the_switcher_remembers_the_choice_over_the_browser(client):
    response = client.get("/language/es?next=/campaigns?kind=petition")
    assert response.status_code == 302
    assert response.headers["Location"] == "/campaigns?kind=petition"
    assert f"{COOKIE}=es" in response.headers["Set-Cookie"]
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="es">' in html and "Iniciar una campaña" in html
    client.get("/language/en?next=/")
    html = client.get("/", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="en">' in html and "Start a campaign" in html


def test_the_switcher_refuses_unknown_languages_and_foreign_targets(client):
    response = client.get("/language/xx?next=/")
    assert response.status_code == 404
    assert "Set-Cookie" not in response.headers or COOKIE not in response.headers["Set-Cookie"]
    response = client.get("/language/es?next=//evil.example/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_numbers_follow_the_locale(client):
    campaign = make_campaign(CampaignKind.PETITION, goal=250000)
    english = client.get(f"/petitions/{campaign.slug}").get_data(as_text=True)
    spanish = client.get(f"/petitions/{campaign.slug}", headers={"Accept-Language": "es"}).get_data(
        as_text=True
    )
    assert "250,000" in english
    assert "250.000" in spanish and "250,000" not in spanish


def test_the_support_form_and_its_errors_speak_spanish(client):
    campaign = make_campaign(CampaignKind.PETITION)
    spanish = {"Accept-Language": "es"}
    page = client.get(f"/petitions/{campaign.slug}", headers=spanish).get_data(as_text=True)
    assert "Tu nombre" in page and "Elige tu país…" in page
    assert ">Alemania</option>" in page and ">Germany</option>" not in page
    english = client.get(f"/petitions/{campaign.slug}").get_data(as_text=True)
    assert ">Germany</option>" in english and "Tu nombre" not in english
    response = post_form(
        client,
        f"/petitions/{campaign.slug}/support",
        {"email": "not-an-address"},
        page=f"/petitions/{campaign.slug}",
        headers=spanish,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Corrige lo siguiente" in html and "Dinos tu nombre." in html
    assert db.session.query(Support).count() == 0  # refused, nothing stored


def test_a_support_keeps_the_consent_in_the_language_it_was_given(client, run_jobs):
    campaign = make_campaign(CampaignKind.PETITION, title="Agua limpia para todos los barrios")
    response = post_form(
        client,
        f"/petitions/{campaign.slug}/support",
        {"name": "Ana", "email": "ana@example.org", "country": "ES", "is_public": "y"},
        page=f"/petitions/{campaign.slug}",
        headers={"Accept-Language": "es"},
    )
    assert response.status_code == 303
    thanks = client.get(response.headers["Location"], headers={"Accept-Language": "es"})
    assert "Un paso más: revisa tu correo" in thanks.get_data(as_text=True)
    support = db.session.query(Support).one()
    assert support.consent_text.startswith(
        "Apoyo la campaña (petición) «Agua limpia para todos los barrios» (firmar)."
    )
    assert "Mi nombre puede mostrarse en público." in support.consent_text


def html_text(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def test_a_supporter_is_emailed_in_the_language_they_signed_in(client, run_jobs, outbox):
    campaign = make_campaign(CampaignKind.PETITION, title="Agua limpia para todos los barrios")
    for email, language in (("ana@example.org", "es"), ("ann@example.org", "en")):
        response = post_form(
            client,
            f"/petitions/{campaign.slug}/support",
            {"name": email[:3], "email": email, "country": "ES"},
            page=f"/petitions/{campaign.slug}",
            headers={"Accept-Language": language},
        )
        assert response.status_code == 303
    run_jobs()
    mail = {m["To"]: m for m in outbox()}
    spanish, english = mail["ana@example.org"], mail["ann@example.org"]
    assert spanish["Subject"] == "Confirma tu firma: Agua limpia para todos los barrios"
    assert 'Gracias por tu firma en "Agua limpia para todos los barrios".' in body_text(spanish)
    assert '<html lang="es">' in html_text(spanish) and "Confirmar mi firma" in html_text(spanish)
    assert english["Subject"] == "Confirm your signature: Agua limpia para todos los barrios"
    assert "Thank you for your signature on" in body_text(english)
    assert '<html lang="en">' in html_text(english)
    stored = {s.email: s.locale for s in db.session.query(Support)}
    assert stored == {"ana@example.org": "es", "ann@example.org": "en"}


def test_a_members_emails_follow_the_language_they_signed_up_in_then_chose(client, run_jobs, outbox):
    response = post_form(
        client,
        "/signup",
        {
            "name": "Lucía",
            "email": "lucia@example.org",
            "password": "correct horse battery",
            "confirm": "correct horse battery",
        },
        headers={"Accept-Language": "es-ES"},
    )
    assert response.status_code == 302
    run_jobs()
    [verify] = outbox()
    assert verify["Subject"] == "Confirma tu dirección de correo para Groundswell"
    assert body_text(verify).startswith("Hola, Lucía:")
    user = db.session.query(User).filter_by(email="lucia@example.org").one()
    assert user.locale == "es"
    user.email_verified_at = utcnow()
    db.session.commit()
    login(client, "lucia@example.org")
    client.get("/language/en?next=/")  # her choice, stored on her account too
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "en"
    post_form(client, "/reset", {"email": "lucia@example.org"})
    run_jobs()
    reset = [m for m in outbox() if m["To"] == "lucia@example.org"][-1]
    assert reset["Subject"] == "Reset your Groundswell password"


def test_a_fan_out_writes_to_each_supporter_in_their_language(app, run_jobs, outbox):
    from campaign.services import campaigns as campaign_service
    from campaign.services import supports as support_service

    organiser = make_user("organiser@example.org")
    campaign = make_campaign(CampaignKind.PETITION, organiser=organiser, title="Un parque en el barrio")
    for i, language in enumerate(["es", "en", None]):
        result = support_service.add_support(
            campaign.id,
            name=f"S{i}",
            email=f"s{i}@example.org",
            country="ES",
            consents_to_updates=True,
            locale=language,
        )
        support_service.confirm(support_token("confirm-support", db.session.get(Support, result.support_id)))
    run_jobs()
    campaign_service.post_update(campaign.id, organiser.id, "Hablamos con la alcaldía", "Nos **escucharon**.")
    run_jobs()
    run_jobs()
    updates = {m["To"]: m for m in outbox() if "Hablamos con la alcaldía" in m["Subject"]}
    assert set(updates) == {"s0@example.org", "s1@example.org", "s2@example.org"}
    assert body_text(updates["s0@example.org"]).startswith("Hola, S0:")
    assert "publicó una novedad en" in body_text(updates["s0@example.org"])
    assert "Dejar de recibir estos correos" in html_text(updates["s0@example.org"])
    for english in ("s1@example.org", "s2@example.org"):  # chosen, and from before languages
        assert body_text(updates[english]).startswith("Hello S")
        assert "posted an update on" in body_text(updates[english])


def test_a_failed_deliverys_reason_is_stored_in_english_and_shown_in_spanish(client, run_jobs):
    from campaign.models import Delivery
    from campaign.services.deliveries import request_delivery
    from tests.factories import make_brand

    brand = make_brand("Sin Contacto SA")
    brand.contact_email = None
    organiser = make_user()
    campaign = make_campaign(CampaignKind.PETITION, organiser=organiser, brand=brand)
    SupportFactory(campaign=campaign, name="Sol", email="sol@example.org", country="ES")
    run_jobs()
    delivery = request_delivery(campaign.id, organiser.id)
    run_jobs()
    db.session.expire_all()
    stored = db.session.get(Delivery, delivery.id).failure_reason
    assert stored.startswith("Sin Contacto SA has no contact address on Groundswell yet")
    login(client, organiser.email)
    page = client.get(f"/petitions/{campaign.slug}", headers={"Accept-Language": "es"})
    assert "Sin Contacto SA aún no tiene dirección de contacto en Groundswell" in page.get_data(as_text=True)


#: The site's ``<time datetime>`` values, in a form HTML accepts: a day, or a day and time
#: in whole seconds with its zone (UTC; HTML allows at most three digits of fraction).
MACHINE_TIME = r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}\+00:00)?"


def test_machine_times_are_valid_html_in_utc(app):
    machine_time = app.jinja_env.filters["machine_time"]
    assert machine_time(datetime(2026, 12, 3, 7, 16, 20, 123456)) == "2026-12-03T07:16:20+00:00"
    paris = timezone(timedelta(hours=1))
    assert machine_time(datetime(2026, 12, 3, 8, 16, 20, tzinfo=paris)) == "2026-12-03T07:16:20+00:00"
    assert machine_time(datetime(2026, 12, 3, 7, 16, 20, tzinfo=UTC)) == "2026-12-03T07:16:20+00:00"
    assert machine_time("2026-12-03T07:16:20.5") == "2026-12-03T07:16:20+00:00"
    assert machine_time(date(2026, 12, 3)) == "2026-12-03"
    assert machine_time(None) == ""


def test_every_time_element_writes_its_machine_time_with_the_filter():
    """``isoformat()`` wrote six digits of fraction (HTML allows three) and no zone."""
    written = {}
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for value in re.findall(r'<time datetime="([^"]*)"', path.read_text()):
            written.setdefault(path.name, []).append(value)
    assert written, "no <time datetime> in the templates"
    wrong = [(name, v) for name, vs in written.items() for v in vs if not v.endswith("|machine_time }}")]
    assert wrong == []


def test_a_campaign_page_writes_valid_machine_times(client):
    campaign = make_campaign(CampaignKind.PETITION)
    SupportFactory(campaign=campaign)
    db.session.commit()
    html = client.get(f"/petitions/{campaign.slug}").get_data(as_text=True)
    values = re.findall(r'<time datetime="([^"]*)"', html)
    assert values and all(re.fullmatch(MACHINE_TIME, v) for v in values), values


def test_a_string_without_variables_is_translated_once_per_language_and_reads_the_same(app, monkeypatch):
    """The templates' ``_`` keeps each plain string's result: looked up once per language,
    then the same text, escaping and ``%%`` as the i18n extension's newstyle gives."""
    from flask import render_template_string
    from flask_babel import get_translations, refresh

    page = "{{ _('Log in') }}|{{ _('Log in') }}|{{ _('100%% sure') }}|{{ _('Hi %(name)s', name='<b>') }}"
    for language, log_in in (("en", "Log in"), ("es", "Iniciar sesión")):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            refresh()  # the test's app context keeps the locale it read first
            translations = get_translations()
            looked_up = []
            real = translations.ugettext
            monkeypatch.setattr(
                translations, "ugettext", lambda s, real=real, seen=looked_up: seen.append(s) or real(s)
            )
            first = render_template_string(page)
            second = render_template_string(page)
        assert first == second == f"{log_in}|{log_in}|100% sure|Hi &lt;b&gt;"
        # A plain string at most once (an earlier test may have kept it already), however
        # many renders; a string with variables each time.
        assert looked_up.count("Log in") <= 1 and looked_up.count("100%% sure") <= 1
        assert looked_up.count("Hi %(name)s") == 2
