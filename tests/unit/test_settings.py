"""Settings choose the Clickatell API once; its base URL defaults to that API's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bulksms import settings as settings_module


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CLICKATELL_BASE_URL", raising=False)
    settings_module.settings.cache_clear()
    yield
    settings_module.settings.cache_clear()


@pytest.mark.parametrize(
    ("api", "url"),
    [
        ("", "https://api.clickatell.com"),
        ("http", "https://api.clickatell.com"),
        ("one", "https://platform.clickatell.com"),
    ],
)
def test_base_url_defaults_to_the_chosen_api(monkeypatch: pytest.MonkeyPatch, api: str, url: str) -> None:
    monkeypatch.setenv("CLICKATELL_API", api)
    monkeypatch.setenv("CLICKATELL_BASE_URL", "")  # what the template passes when its parameter is empty
    config = settings_module.settings()
    assert config.clickatell_api == (api or "http") and config.clickatell_base_url == url


def test_an_explicit_base_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKATELL_API", "one")
    monkeypatch.setenv("CLICKATELL_BASE_URL", "http://127.0.0.1:8099/")
    assert settings_module.settings().clickatell_base_url == "http://127.0.0.1:8099"


def test_an_unknown_api_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKATELL_API", "rest")
    with pytest.raises(ValueError, match="CLICKATELL_API"):
        settings_module.settings()
