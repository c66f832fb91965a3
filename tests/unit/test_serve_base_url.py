"""`chefoskop serve --port N`: the links in mails point where the server listens, unless
CHEFOSKOP_BASE_URL says otherwise."""

from __future__ import annotations

import pytest

from api import serve as serving
from chefoskop.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def no_base_url_in_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CHEFOSKOP_BASE_URL", "")  # recorded, so whatever serve sets is undone
    monkeypatch.delenv("CHEFOSKOP_BASE_URL")
    monkeypatch.chdir("/")  # no .env file from the working folder either
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(("host", "port", "expected"), [
    ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
    ("127.0.0.1", 8765, "http://127.0.0.1:8765"),
    ("localhost", 9000, "http://localhost:9000"),
    ("chefoskop.example.se", 80, "http://chefoskop.example.se:80"),
    ("0.0.0.0", 8080, "http://127.0.0.1:8080"),  # every address: this machine's own
    ("::", 8080, "http://[::1]:8080"),
    ("::1", 8081, "http://[::1]:8081"),
])
def test_without_a_base_url_links_point_where_the_server_listens(host: str, port: int,
                                                                  expected: str) -> None:
    assert serving.link_base_url(Settings(_env_file=None), host, port) == expected


def test_a_base_url_that_is_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    given = Settings(_env_file=None, base_url="https://chefoskop.kommun.se")
    assert serving.link_base_url(given, "127.0.0.1", 8765) == "https://chefoskop.kommun.se"
    monkeypatch.setenv("CHEFOSKOP_BASE_URL", "http://127.0.0.1:8000")  # even the default value
    assert serving.link_base_url(Settings(_env_file=None), "127.0.0.1", 8765) == "http://127.0.0.1:8000"


def test_serve_gives_the_app_and_the_mail_the_address_it_listens_on(monkeypatch) -> None:
    import uvicorn

    import api.app
    import notifications.sink

    seen = {}
    monkeypatch.setattr(notifications.sink, "ensure_sink", lambda settings: ("127.0.0.1", 2525))
    monkeypatch.setattr(api.app, "create_app", lambda settings: seen.__setitem__("app", settings))
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(run=kw))
    serving.serve("127.0.0.1", 8765)
    assert seen["run"]["port"] == 8765
    assert seen["app"].base_url == "http://127.0.0.1:8765"
    assert get_settings().base_url == "http://127.0.0.1:8765"  # the mail sender and survey links read it
    monkeypatch.setenv("CHEFOSKOP_BASE_URL", "https://chefoskop.kommun.se")
    get_settings.cache_clear()
    serving.serve("127.0.0.1", 8766)
    assert seen["app"].base_url == get_settings().base_url == "https://chefoskop.kommun.se"
