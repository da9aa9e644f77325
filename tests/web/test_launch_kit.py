"""The organiser's launch kit: share links, embed code, a QR code and an A4 poster whose QR
code a real decoder reads back as the campaign's link."""

from __future__ import annotations

import io

import pypdfium2
import zxingcpp
from PIL import Image

from campaign.models import CampaignKind, CampaignState
from tests.factories import make_campaign, make_user
from tests.helpers import ARTIFACTS, login, picture_bytes, upload


def decode_qr(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]


def test_the_poster_carries_the_demand_the_count_and_a_qr_code_of_the_link(app, client):
    organiser = make_user("organiser@example.org")
    petition = make_campaign(
        CampaignKind.PETITION, organiser=organiser, title="Fair pay for the pickers of Acmé coffee"
    )
    login(client, organiser.email)
    assert upload(client, petition, picture_bytes()).status_code == 302
    kit = client.get(f"/petitions/{petition.slug}/launch-kit")
    page = kit.get_data(as_text=True)
    link = f"http://groundswell.test/petitions/{petition.slug}"
    assert kit.status_code == 200
    assert "<svg" in page and "Download the A4 poster (PDF)" in page
    assert f"{link}?ref=whatsapp" in page.replace("%3A", ":").replace("%2F", "/").replace("%3F", "?").replace(
        "%3D", "="
    )
    assert "&lt;iframe src=&#34;" in page or '&lt;iframe src="' in page

    qr = client.get(f"/petitions/{petition.slug}/launch-kit/qr.png")
    assert qr.mimetype == "image/png"
    assert decode_qr(Image.open(io.BytesIO(qr.data))) == [link]

    response = client.get(f"/petitions/{petition.slug}/launch-kit/poster.pdf")
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    pdf = pypdfium2.PdfDocument(response.data)
    try:
        assert len(pdf) == 1
        page = pdf[0]
        width, height = page.get_size()
        assert round(width / 72 * 25.4) == 210 and round(height / 72 * 25.4) == 297  # A4
        text = page.get_textpage().get_text_range()
        assert "Fair pay for the pickers of Acmé coffee" in text.replace("\r\n", " ")
        assert "Do the right thing." in text and "0 signatures so far" in text
        rendered = page.render(scale=2).to_pil()
        ARTIFACTS.mkdir(exist_ok=True)
        rendered.save(ARTIFACTS / "launch-kit-poster.png")  # to look at
        assert decode_qr(rendered) == [link]
        # The picture is on the poster: its orange shows near the top.
        top = rendered.crop((0, 150, rendered.width, 400)).convert("RGB")
        assert (200, 80, 40) in {tuple(round(c / 10) * 10 for c in p) for p in top.get_flattened_data()}
    finally:
        pdf.close()


def test_the_kit_waits_for_approval(app, client):
    organiser = make_user("organiser@example.org")
    draft = make_campaign(organiser=organiser, state=CampaignState.DRAFT)
    login(client, organiser.email)
    page = client.get(f"/petitions/{draft.slug}/launch-kit").get_data(as_text=True)
    assert "ready once a moderator approves" in page and "<svg" not in page
    assert client.get(f"/petitions/{draft.slug}/launch-kit/poster.pdf").status_code == 404
