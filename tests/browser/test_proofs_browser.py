"""The /verify page checks receipts and signed statements in the browser, with no server call."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from campaign import packages
from campaign.extensions import db
from campaign.models import Delivery, Support
from campaign.services.deliveries import request_delivery
from tests.browser.browsing import run_worker, shot
from tests.factories import SupportFactory, every_other, make_brand, make_campaign, make_user
from tests.helpers import link_in, read_outbox

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [390, 1280])
def test_the_verify_page_checks_a_receipt_and_a_package_on_the_device(browser, live_app, tmp_path, width):
    app, base = live_app
    petition = make_campaign(
        organiser=make_user("organiser@example.org"), brand=make_brand("Northwind Coffee")
    )
    petition_id, organiser_id = petition.id, petition.organiser_id
    SupportFactory.create_batch(4, campaign=petition, consents_to_updates=every_other())
    run_worker(app)
    delivery_id = request_delivery(petition_id, organiser_id).id
    run_worker(app)
    run_worker(app)  # the "delivered" notice fans out
    delivery = db.session.get(Delivery, delivery_id)
    support = db.session.execute(select(Support).filter_by(email="s2@example.org")).scalar_one()
    receipt = packages.receipt(delivery, support)
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    forged = dict(receipt, leaf=receipt["leaf"].replace("Supporter 2", "Supporter 7"))
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    files = packages.package_files(delivery)
    changed = bytearray(files["csv"].read_bytes())
    changed[-5] ^= 1
    (tmp_path / "changed.csv").write_bytes(bytes(changed))
    [notice] = [
        m
        for m in read_outbox(tmp_path / "outbox")
        if m["To"] == "s2@example.org" and m["Subject"].startswith("Delivered to")
    ]
    receipt_link = link_in(notice, "/receipts/")
    db.session.remove()

    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))

    page.goto(base + receipt_link)
    page.get_by_role("heading", name="Your delivery receipt").wait_for()
    page.get_by_text("Supporter 2 · GB").wait_for()
    shot(page, f"proofs-receipt-{width}")

    page.goto(base + "/verify")
    requests.clear()
    check = page.get_by_role("button", name="Check on this device")
    page.locator("#proof_file").set_input_files(str(tmp_path / "receipt.json"))
    check.click()
    result = page.locator("#offline-result")
    result.get_by_role("heading", name="Valid", exact=True).wait_for()
    assert "The signature of Supporter 2 is in round 1" in result.inner_text()
    # On the day it was signed, written as the site writes a day ("3 Dec 2026"), not ISO.
    signed = datetime.fromisoformat(json.loads(receipt["statement"])["time"]).astimezone(UTC)
    assert f"on {signed.day} {signed:%b %Y}." in result.inner_text(), result.inner_text()
    shot(page, f"proofs-verify-valid-{width}")

    page.locator("#proof_file").set_input_files(str(tmp_path / "forged.json"))
    check.click()
    result.get_by_role("heading", name="Not valid").wait_for()
    assert "the receipt was altered" in result.inner_text()

    page.locator("#proof_file").set_input_files(str(files["statement"]))
    page.locator("#package_files").set_input_files([str(files["csv"]), str(files["pdf"])])
    check.click()
    result.get_by_text("The files you chose are the ones delivered.").wait_for()

    page.locator("#package_files").set_input_files([str(tmp_path / "changed.csv")])
    check.click()
    result.get_by_role("heading", name="Not valid").wait_for()
    assert "changed.csv is not the file that was delivered" in result.inner_text()
    shot(page, f"proofs-verify-not-valid-{width}")
    # Every check ran on the device: the page asked the server for nothing (the browser
    # may fetch the favicon, a static file, at any time).
    assert [url for url in requests if "/static/" not in url] == [], requests
    context.close()

    # Both pages pass axe and fit a phone (axe is injected, so this context skips the CSP).
    from tests.browser.browsing import check

    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    problems = []
    for name, url in (("receipt", receipt_link), ("verify", "/verify")):
        page.goto(base + url)
        problems += check(page, f"proofs-{name}", str(width))
    assert problems == []
    context.close()
