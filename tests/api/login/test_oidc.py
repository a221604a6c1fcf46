"""Login with an OIDC provider, end to end against oidc-provider-mock on loopback: the session it
opens, and every way the way back can go wrong, each a 401 or 403 that opens nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.auth import SESSION_COOKIE
from tests.api.helpers import JOBS, ok
from tests.api.login.browser import (
    OTHER_CLIENT,
    SESSION,
    browser,
    logged_in,
    query,
    with_query,
)
from tests.api.login.fake_github import FakeGithub


def session_cookie(response: httpx.Response) -> str | None:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    return found[0] if found else None


def refused(response: httpx.Response, status: int = 401) -> Any:
    """A JSON error, and no session cookie set."""
    body = ok(response, status)
    assert session_cookie(response) is None
    return body


async def test_the_providers_are_public(app: FastAPI) -> None:
    async with browser(app) as anonymous:
        providers = ok(await anonymous.jetdeck.get("/api/auth/providers"))["items"]
    assert [(p["name"], p["kind"]) for p in providers] == [
        ("corp", "oidc"),
        ("github", "github"),
        ("lax", "oidc"),
        ("relay", "oidc"),
    ]
    assert providers[0]["login_url"] == "/api/auth/login/corp"


async def test_login_asks_for_pkce_state_and_nonce_and_comes_back_to_the_public_url(
    app: FastAPI,
) -> None:
    async with browser(app) as visitor:
        asked = query(await visitor.start("corp"))
    assert asked["code_challenge_method"] == "S256"
    assert asked["code_challenge"]
    assert asked["state"]
    assert asked["nonce"]
    assert asked["redirect_uri"] == "http://127.0.0.1:8000/api/auth/callback/corp"


async def test_a_login_opens_a_session_with_no_role(app: FastAPI) -> None:
    async with browser(app) as alice:
        response = await alice.login("corp", "u-alice")
        assert (response.status_code, response.headers["location"]) == (303, "/")
        cookie = session_cookie(response)
        assert cookie is not None
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        # Secure even on http: a `__Host-` cookie needs it, and loopback is a secure origin
        assert {"secure", "httponly", "path=/", "samesite=lax"} <= flags
        assert not any(flag.startswith("domain=") for flag in flags)
        assert alice.session_token is not None
        assert alice.session_token.startswith("jdses_")
        me = await alice.me()
        assert (me["principal"], me["roles"], me["provider"]) == (
            "user:alice@example.com",
            [],
            "corp",
        )
        refused_read = ok(await alice.jetdeck.get(JOBS), 403)
    assert "user:alice@example.com needs the read permission" in refused_read["detail"]


async def test_the_session_token_is_a_bearer_token_too(app: FastAPI) -> None:
    async with browser(app) as alice:
        secret = await logged_in(alice)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://jetdeck"
    ) as script:
        me = ok(await script.get(SESSION, headers={"Authorization": f"Bearer {secret}"}))
    assert me["principal"] == "user:alice@example.com"


@pytest.mark.parametrize("settings", [{"public_url": "https://jetdeck.example.com"}], indirect=True)
async def test_the_cookie_is_secure_off_loopback(app: FastAPI) -> None:
    async with browser(app, base_url="https://jetdeck.example.com") as alice:
        authorize = await alice.start("corp")
        assert query(authorize)["redirect_uri"].startswith("https://jetdeck.example.com/")
        response = await alice.finish(await alice.approve(authorize, "u-alice"))
        cookie = session_cookie(response)
        assert cookie is not None
        assert "secure" in cookie.lower()
        assert (await alice.me())["principal"] == "user:alice@example.com"


async def test_a_callback_this_browser_did_not_start_is_refused(app: FastAPI) -> None:
    """Login CSRF: the victim is sent to the attacker's callback, code and state included."""
    async with browser(app) as attacker, browser(app) as victim:
        planted = await attacker.approve(await attacker.start("corp"), "u-mallory")
        await victim.start("corp")  # even with a login of its own under way
        body = refused(await victim.finish(planted))
        assert body["detail"] == "login with corp failed: MismatchingStateError"
        ok(await victim.jetdeck.get(SESSION), 401)


async def test_an_id_token_without_our_nonce_is_refused(app: FastAPI) -> None:
    async with browser(app) as visitor:
        callback = await visitor.approve(
            with_query(await visitor.start("lax"), nonce=None), "u-alice"
        )
        body = refused(await visitor.finish(callback))
    assert body["detail"] == "login with lax failed: MissingClaimError"


async def test_a_provider_that_requires_a_nonce_refuses_a_request_without_one(app: FastAPI) -> None:
    async with browser(app) as visitor:
        callback = await visitor.approve(
            with_query(await visitor.start("corp"), nonce=None), "u-alice"
        )
        assert query(callback)["error"] == "invalid_request"
        refused(await visitor.finish(callback))


async def test_an_id_token_for_another_audience_is_refused(app: FastAPI) -> None:
    """The provider's token endpoint hands JetDeck an ID token it minted for another client."""
    async with browser(app) as visitor:
        authorize = with_query(await visitor.start("relay"), client_id=OTHER_CLIENT)
        body = refused(await visitor.finish(await visitor.approve(authorize, "u-alice")))
    assert body["detail"] == "login with relay failed: InvalidClaimError"


async def test_a_used_or_made_up_code_is_refused(app: FastAPI) -> None:
    async with browser(app) as alice:
        used = await alice.approve(await alice.start("corp"), "u-alice")
        assert (await alice.finish(used)).status_code == 303
        for code in (query(used)["code"], "made-up"):
            state = query(await alice.start("corp"))["state"]
            callback = with_query(used, code=code, state=state)
            assert refused(await alice.finish(callback))["detail"].endswith("OAuthError")


async def test_the_providers_own_error_is_refused(app: FastAPI) -> None:
    async with browser(app) as visitor:
        state = query(await visitor.start("corp"))["state"]
        callback = f"/api/auth/callback/corp?error=access_denied&state={state}"
        refused(await visitor.finish(callback))


@pytest.mark.parametrize(
    ("who", "detail"),
    [
        ("u-mallory", "mallory@elsewhere.example may not log in with corp"),
        ("u-eve", "corp vouches for no verified email of this account"),
    ],
)
async def test_a_person_the_provider_vouches_for_may_still_be_refused(
    app: FastAPI, who: str, detail: str
) -> None:
    async with browser(app) as visitor:
        assert refused(await visitor.login("corp", who), 403)["detail"] == detail
        ok(await visitor.jetdeck.get(SESSION), 401)


async def test_a_domain_on_the_allow_list_lets_its_people_in(app: FastAPI) -> None:
    async with browser(app) as bob:
        await logged_in(bob, who="u-bob")
        assert (await bob.me())["principal"] == "user:bob@corp.example"


async def test_an_unknown_provider_is_404(app: FastAPI, github: FakeGithub) -> None:
    async with browser(app, github) as visitor:
        ok(await visitor.jetdeck.get("/api/auth/login/nope"), 404)
        ok(await visitor.jetdeck.get("/api/auth/callback/nope?code=x&state=y"), 404)
