"""The session cookie: Flask's, its serializer made once per secret key."""

import pytest
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature


def test_the_session_is_flasks_signed_cookie_and_follows_the_secret_key(app):
    interface = app.session_interface
    signed = interface.get_signing_serializer(app).dumps({"last_support": {"id": 7}})
    assert interface.get_signing_serializer(app) is interface.get_signing_serializer(app)  # made once
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    assert flasks.loads(signed) == {"last_support": {"id": 7}}
    assert interface.get_signing_serializer(app).loads(flasks.dumps({"a": 1})) == {"a": 1}
    kept = interface.get_signing_serializer(app).make_signer()
    assert kept is interface.get_signing_serializer(app).make_signer()  # its signer made once
    # signed as Flask signs (its key derivation, SHA-1 through OpenSSL), byte for byte
    assert kept.get_signature(b"value.time") == flasks.make_signer().get_signature(b"value.time")
    old = app.secret_key
    app.config["SECRET_KEY"] = "a-new-secret-key"
    with pytest.raises(BadSignature):
        interface.get_signing_serializer(app).loads(signed)
    app.config["SECRET_KEY_FALLBACKS"] = [old]  # rotated: sessions signed with the old key hold
    assert interface.get_signing_serializer(app).loads(signed) == {"last_support": {"id": 7}}


def test_a_signed_session_survives_requests(client):
    with client.session_transaction() as session:
        session["ref:a-campaign"] = "whatsapp"
    client.get("/supports/form-token")
    with client.session_transaction() as session:
        assert session["ref:a-campaign"] == "whatsapp" and session["csrf_token"]


def test_a_short_session_is_not_compressed_and_flask_reads_both(app):
    """zlib is tried only on a session of COMPRESS_FROM bytes or more (a short one gains a few
    dozen bytes for the CPU of setting zlib up); Flask's own serializer reads either cookie."""
    from campaign.sessions import COMPRESS_FROM

    ours = app.session_interface.get_signing_serializer(app)
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    short = {"csrf_token": "a" * 40, "last_support": {"id": 7, "email": "ana@example.org"}}
    long = {"notes": ["the same words again"] * (COMPRESS_FROM // 10)}
    assert not ours.dumps(short).startswith(".")  # as it is
    assert flasks.dumps(short).startswith(".")  # Flask would have compressed it
    assert ours.dumps(long).startswith(".")  # compressed, as Flask does
    for session in (short, long):
        assert flasks.loads(ours.dumps(session)) == session
        assert ours.loads(flasks.dumps(session)) == session
