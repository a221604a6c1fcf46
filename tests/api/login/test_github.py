"""Login with GitHub (OAuth 2.0, not OIDC) against a fake GitHub in process: the person is its
numeric id, and only a verified primary email on the allow-list may log in."""

from __future__ import annotations

from fastapi import FastAPI

from tests.api.helpers import ok
from tests.api.login.browser import SESSION, browser, logged_in, query, with_query
from tests.api.login.fake_github import FakeGithub


async def test_a_github_login_opens_a_session_for_the_verified_primary_email(
    app: FastAPI, github: FakeGithub
) -> None:
    async with browser(app, github) as octo:
        authorize = await octo.start("github")
        assert authorize.startswith("https://github.com/login/oauth/authorize?")
        assert query(authorize)["scope"] == "read:user user:email"
        await logged_in(octo, "github", "octo")
        me = await octo.me()
    assert (me["principal"], me["provider"], me["roles"]) == ("user:octo@example.com", "github", [])


async def test_an_unverified_email_may_not_log_in(app: FastAPI, github: FakeGithub) -> None:
    async with browser(app, github) as newbie:
        refusal = ok(await newbie.login("github", "newbie"), 403)
        assert refusal["detail"] == "github vouches for no verified email of this account"
        ok(await newbie.jetdeck.get(SESSION), 401)


async def test_an_email_off_the_allow_list_may_not_log_in(app: FastAPI, github: FakeGithub) -> None:
    async with browser(app, github) as outsider:
        refusal = ok(await outsider.login("github", "outsider"), 403)
        assert refusal["detail"] == "outsider@elsewhere.example may not log in with github"
        ok(await outsider.jetdeck.get(SESSION), 401)


async def test_a_code_github_does_not_know_is_refused(app: FastAPI, github: FakeGithub) -> None:
    """GitHub answers 200 with an `error` field, which must not pass for a token."""
    async with browser(app, github) as octo:
        callback = await octo.approve(await octo.start("github"), "octo")
        refusal = ok(await octo.finish(with_query(callback, code="made-up")), 401)
        assert refusal["detail"] == "login with github failed: OAuthError"
        ok(await octo.jetdeck.get(SESSION), 401)
