"""The app's two usual addresses on the local front (the `front` fixture in tests/conftest.py):
the same nginx, opened as http://127.0.0.1:PORT/ and as http://localhost:PORT/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from deploy.nginx_render import Nginx


@pytest.fixture
def page(browser: Browser, frontend_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """The app opened by the test module's own ``open_app`` (its viewport, capabilities); no page errors."""
    page = request.module.open_app(browser, frontend_url)
    try:
        yield page
        assert page.page_errors == [], page.page_errors  # type: ignore[attr-defined]
    finally:
        page.context.close()


@pytest.fixture(scope="session")
def localhost_frontend_url(front: Nginx) -> str:
    """`frontend_url` under the host name localhost (a different origin for the browser, same server)."""
    return front.url.replace("://127.0.0.1:", "://localhost:") + "/"


@pytest.fixture(scope="session", params=["127.0.0.1", "localhost"])
def frontend_urls(request: pytest.FixtureRequest, front: Nginx) -> str:
    """Both host names in turn, for tests that must pass from either."""
    return front.url.replace("127.0.0.1", request.param) + "/"
