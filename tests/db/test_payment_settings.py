"""The payment settings of every process (the API's, the worker's, the CLI's): the manual
provider by default; `PAYMENT_PROVIDER=stripe` needs both of Stripe's secrets, in production
and in development alike, and a process without one refuses to start naming it in one line;
a secret of the wrong kind (a publishable key, the keys swapped) is refused without echoing
it; the provider built from the settings is the one they name, and is closed at shutdown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from orderly_cli.config import CliSettings
from orderly_db.settings import ConfigurationError, load_settings
from orderly_http.settings import HttpSettings
from orderly_payments.manual import ManualProvider
from orderly_payments.settings import PaymentSettings, open_provider, provider_from_settings
from orderly_payments.stripe import StripeProvider
from orderly_worker.settings import WorkerEnv

SETTINGS = [HttpSettings, WorkerEnv, CliSettings]
SECRET_KEY = "sk_test_51Settings0nly"
WEBHOOK_SECRET = "whsec_settingsonlysigningsecret"
STRIPE_VARIABLES = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE")


@pytest.fixture(params=["production", "development"])
def environment(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> str:
    """A complete environment (production or development) on the manual provider, no `.env`
    in reach."""
    monkeypatch.chdir(tmp_path)
    for name in (*STRIPE_VARIABLES, "PAYMENT_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENVIRONMENT", request.param)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://orderly@db/orderly")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("JWT_SECRET", "s" * 32)
    return str(request.param)


def refusal(settings: type[BaseSettings]) -> str:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(settings)
    message = str(refused.value)
    assert "\n" not in message
    return message


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: cls.__name__)
def test_the_manual_provider_is_the_default_and_needs_no_stripe_secret(
    settings: type[PaymentSettings],
) -> None:
    loaded = load_settings(settings)

    assert loaded.payment_provider == "manual"
    assert (loaded.stripe_secret_key, loaded.stripe_webhook_secret) == (None, None)
    assert isinstance(provider_from_settings(loaded), ManualProvider)


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("missing", ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"])
def test_stripe_without_one_of_its_secrets_refuses_to_start_naming_it(
    monkeypatch: pytest.MonkeyPatch, settings: type[BaseSettings], missing: str
) -> None:
    monkeypatch.setenv("PAYMENT_PROVIDER", "stripe")
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv(missing, "  ")  # set but blank counts as unset

    message = refusal(settings)

    assert f"{missing}: " in message
    assert "required when PAYMENT_PROVIDER=stripe" in message
    assert [name for name in STRIPE_VARIABLES if name in message] == [missing]


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: cls.__name__)
def test_stripe_without_any_secret_names_both(
    monkeypatch: pytest.MonkeyPatch, settings: type[BaseSettings]
) -> None:
    monkeypatch.setenv("PAYMENT_PROVIDER", "stripe")

    message = refusal(settings)

    assert "STRIPE_SECRET_KEY: " in message
    assert "STRIPE_WEBHOOK_SECRET: " in message


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STRIPE_SECRET_KEY", "pk_test_publishablekey123"),  # the publishable key
        ("STRIPE_SECRET_KEY", WEBHOOK_SECRET),  # the two swapped
        ("STRIPE_WEBHOOK_SECRET", SECRET_KEY),
        ("STRIPE_SECRET_KEY", "sk_test_with space"),
        ("STRIPE_SECRET_KEY", "sk_test_\x1b[2Jescape"),  # a terminal escape
        ("STRIPE_SECRET_KEY", "sk_test_" + "x" * 600),
        ("STRIPE_WEBHOOK_SECRET", "whsec_\u0430bc"),  # a Cyrillic look-alike
    ],
)
def test_a_secret_of_the_wrong_kind_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("PAYMENT_PROVIDER", "stripe")
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv(variable, value)

    message = refusal(HttpSettings)

    assert f"{variable}: " in message
    assert value not in message
    assert [name for name in STRIPE_VARIABLES if name in message] == [variable]


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("url", ["ftp://127.0.0.1:8420", "127.0.0.1:8420", "http://a b", "http://"])
def test_an_api_base_that_is_not_an_http_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("STRIPE_API_BASE", url)

    assert "STRIPE_API_BASE: " in refusal(WorkerEnv)


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: cls.__name__)
async def test_stripe_with_its_secrets_opens_a_stripe_provider_and_closes_it(
    monkeypatch: pytest.MonkeyPatch, settings: type[PaymentSettings]
) -> None:
    monkeypatch.setenv("PAYMENT_PROVIDER", "stripe")
    monkeypatch.setenv("STRIPE_SECRET_KEY", f" {SECRET_KEY}\n")  # pasted with a newline
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:8420/")

    loaded = load_settings(settings)
    async with open_provider(loaded) as provider:
        assert isinstance(provider, StripeProvider)
        assert provider.name == "stripe"
        open_while_used = not provider.closed

    assert open_while_used
    assert provider.closed
    assert loaded.stripe_secret_key is not None
    assert loaded.stripe_secret_key.get_secret_value() == SECRET_KEY
    assert loaded.stripe_api_base == "http://127.0.0.1:8420"
    for shown in (repr(loaded), str(loaded), repr(provider)):
        assert SECRET_KEY not in shown
        assert WEBHOOK_SECRET not in shown


@pytest.mark.usefixtures("environment")
def test_the_stripe_secrets_of_a_manual_shop_are_still_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Set for a switch to Stripe later, they are held to the same form now."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", "pk_live_publishable")

    assert "STRIPE_SECRET_KEY: " in refusal(CliSettings)
