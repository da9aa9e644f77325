"""Signed links: made without compressing (our payloads never shrink), read as before, and a
link itsdangerous compressed (made before) still read."""

import pytest
from itsdangerous import URLSafeTimedSerializer

from campaign.tokens import TokenError, make_token, read_token


def test_a_token_is_read_back_and_by_itsdangerous_itself(app):
    payload = {"s": 123_456, "e": "ana.peña@example.org"}
    token = make_token("confirm-support", payload)
    assert not token.startswith(".")  # not compressed
    assert read_token("confirm-support", token, max_age=60) == payload
    standard = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="groundswell.confirm-support")
    assert standard.loads(token, max_age=60) == payload
    # The payload as itsdangerous writes it (its compact JSON, the accent as it is), byte
    # for byte: only the signature's timestamp may differ between two tokens.
    assert token.split(".")[0] == standard.dumps(payload).split(".")[0]
    with pytest.raises(TokenError):
        read_token("withdraw", token, max_age=60)  # another purpose's salt


def test_a_compressed_token_made_before_is_still_read(app):
    payload = {"s": 1, "e": "a" * 80 + "@example.org"}  # repetitive: itsdangerous compresses it
    standard = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="groundswell.withdraw")
    old = standard.dumps(payload)
    assert old.startswith(".")
    assert read_token("withdraw", old, max_age=60) == payload
    assert read_token("withdraw", make_token("withdraw", payload), max_age=60) == payload


def test_a_new_secret_key_makes_and_reads_its_own_tokens(app):
    token = make_token("withdraw", {"s": 1})
    app.config["SECRET_KEY"] = "another-secret"
    with pytest.raises(TokenError):
        read_token("withdraw", token, max_age=60)
    assert read_token("withdraw", make_token("withdraw", {"s": 1}), max_age=60) == {"s": 1}


def test_a_signer_made_once_signs_as_a_new_one_would(app):
    """The signer kept for a purpose (its key derived once) makes the very token a signer
    made anew does, and reads tokens made by one."""
    from itsdangerous import TimestampSigner

    from campaign.tokens import _serializer

    serializer = _serializer("confirm-support")
    assert serializer.make_signer() is serializer.make_signer()
    kept = serializer.make_signer()
    fresh = TimestampSigner(app.config["SECRET_KEY"], salt="groundswell.confirm-support")
    assert kept.derive_key() == fresh.derive_key()
    assert kept.get_signature(b"payload.time") == fresh.get_signature(b"payload.time")
    assert kept.unsign(fresh.sign(b"payload")) == b"payload"
    assert fresh.unsign(kept.sign(b"payload")) == b"payload"


def test_referral_codes_and_message_ids_are_the_keyed_hashes_they_were(app):
    """Each one HMAC-SHA256 keyed with the secret (:func:`campaign.tokens.keyed_hex`)."""
    import hashlib
    import hmac

    from campaign.mail import receipt_message_id
    from campaign.sharing import parse_referral, referral_code

    key = app.config["SECRET_KEY"].encode()
    for support_id in (1, 36, 123_456_789):
        code = referral_code(support_id)
        ident = code[:-6]
        assert code[-6:] == hmac.new(key, b"referral:" + ident.encode(), hashlib.sha256).hexdigest()[:6]
        assert parse_referral(f"email-{code}") == ("email", support_id)
    for receipt in ("confirm-support:7:1", "goal:12"):
        digest = hmac.new(key, receipt.encode(), hashlib.sha256).hexdigest()[:32]
        assert receipt_message_id(receipt) == f"<{digest}@groundswell.localhost>"
    app.config["SECRET_KEY"] = "another-secret"
    assert receipt_message_id("goal:12") != f"<{digest}@groundswell.localhost>"
