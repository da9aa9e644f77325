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
