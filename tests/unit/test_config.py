import pytest

from campaign import create_app


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("MAIL_URL", "smtp://127.0.0.1:1")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)})


def test_production_refuses_to_start_without_a_signing_key(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "a-long-random-secret")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("MAIL_URL", "smtp://127.0.0.1:1")
    monkeypatch.setenv("DELIVERY_STORAGE", str(tmp_path / "deliveries"))
    monkeypatch.setenv("MEDIA_STORAGE", str(tmp_path / "media"))
    monkeypatch.setenv("TRUSTED_HOSTS", "groundswell.example")
    monkeypatch.delenv("SIGNING_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SIGNING_KEY"):
        create_app({"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)})
    assert not (tmp_path / "signing_key.pem").exists()  # never generated in production
    monkeypatch.setenv("SIGNING_KEY", "not a key")
    with pytest.raises(RuntimeError, match="SIGNING_KEY cannot be read"):
        create_app({"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)})


def test_production_starts_with_everything_set(monkeypatch, tmp_path):
    from campaign.signing import new_private_key_pem

    monkeypatch.setenv("SECRET_KEY", "a-long-random-secret")
    monkeypatch.setenv("SIGNING_KEY", new_private_key_pem())
    monkeypatch.setenv("DATABASE_URL", "postgres://user:pw@db.internal/groundswell")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("MAIL_URL", "smtp://127.0.0.1:1")
    monkeypatch.setenv("DELIVERY_STORAGE", str(tmp_path / "deliveries"))
    monkeypatch.setenv("MEDIA_STORAGE", str(tmp_path / "media"))
    monkeypatch.setenv("TRUSTED_HOSTS", "groundswell.example, www.groundswell.example")
    app = create_app({"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["TRUSTED_HOSTS"] == ["groundswell.example", "www.groundswell.example"]
    # Heroku-style URLs are read with the psycopg 3 driver.
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://user:pw@")
    assert "dev.outbox" not in app.view_functions


def test_development_generates_a_secret_once_and_reuses_it(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = create_app({"ENV_NAME": "development", "INSTANCE_PATH": str(tmp_path)})
    second = create_app({"ENV_NAME": "development", "INSTANCE_PATH": str(tmp_path)})
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    # The signing key too: generated once into the instance folder, private to its owner.
    assert first.config["SIGNING_KEY"] == second.config["SIGNING_KEY"]
    assert (tmp_path / "signing_key.pem").stat().st_mode & 0o077 == 0
    assert first.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'groundswell.db'}"


def test_unknown_environment_name_is_a_clear_error():
    with pytest.raises(RuntimeError, match="GROUNDSWELL_ENV='staging'"):
        create_app("staging")


def _production_env(monkeypatch, tmp_path):
    from campaign.signing import new_private_key_pem

    monkeypatch.setenv("SIGNING_KEY", new_private_key_pem())
    monkeypatch.setenv("MEDIA_STORAGE", str(tmp_path / "media"))
    monkeypatch.setenv("TRUSTED_HOSTS", "groundswell.example")
    monkeypatch.setenv("SECRET_KEY", "a-long-random-secret")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("MAIL_URL", "smtp://127.0.0.1:1")
    monkeypatch.setenv("DELIVERY_STORAGE", str(tmp_path / "deliveries"))


def test_production_requires_trusted_hosts(monkeypatch, tmp_path):
    _production_env(monkeypatch, tmp_path)
    monkeypatch.delenv("TRUSTED_HOSTS", raising=False)
    with pytest.raises(RuntimeError, match="TRUSTED_HOSTS"):
        create_app({"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)})


def test_production_refuses_a_foreign_host_and_hsts_carries_its_settings(monkeypatch, tmp_path):
    _production_env(monkeypatch, tmp_path)
    monkeypatch.setenv("TRUSTED_HOSTS", "groundswell.example")
    monkeypatch.setenv("HSTS_INCLUDE_SUBDOMAINS", "true")
    monkeypatch.setenv("HSTS_PRELOAD", "1")
    client = create_app({"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)}).test_client()
    foreign = client.get("/api/v1/campaigns?page=1", headers={"Host": "evil.example"})
    assert foreign.status_code == 400 and "campaigns" not in foreign.get_json()  # no links
    ours = client.get("/language/en", headers={"Host": "groundswell.example"})
    assert ours.headers["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")


def test_production_refuses_to_start_without_media_storage(monkeypatch, tmp_path):
    _production_env(monkeypatch, tmp_path)
    monkeypatch.delenv("MEDIA_STORAGE", raising=False)
    with pytest.raises(RuntimeError, match="MEDIA_STORAGE"):
        create_app({"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)})


def test_the_pool_size_comes_from_the_environment(monkeypatch, tmp_path):
    from sqlalchemy.pool import QueuePool

    from campaign.config import Config
    from campaign.extensions import db

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "17")
    app = create_app({"ENV_NAME": "development", "INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_size": 17}
    assert Config.SQLALCHEMY_ENGINE_OPTIONS == {}  # the class is left alone
    with app.app_context():
        assert isinstance(db.engine.pool, QueuePool) and db.engine.pool.size() == 17
