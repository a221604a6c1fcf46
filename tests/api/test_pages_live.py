"""The live stream's answers to who is watching, in process against the suite's nats-server: a
channel is shared only by callers equal in identity (roles and scope included), a joiner's own
credentials must get the page, and a member the page refuses on a later render is ended while
the others keep their updates."""

from __future__ import annotations

from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from api.live.hub import Hub
from api.live.routes import job_of, refusal_status
from domain.identity import Principal, Role
from domain.recorded import Cause
from infra.services import Services
from tests.api.helpers import create_deployment, create_job, ok
from tests.api.live_client import live

ENDED = {"event": "ended", "data": "login"}


def _cause() -> Cause:
    command_id = uuid4().hex
    return Cause("system:test", command_id, "test", command_id)


async def token(services: Services, name: str, role: Role, token_id: UUID | None = None) -> str:
    """A service token, once the read models know it."""
    result, secret = await services.access.issue(
        _cause(), token_id or uuid4(), name, frozenset({role}), None, None
    )
    await services.runner.wait_for(result.seq, 5)
    return secret


def hub(app: FastAPI) -> Hub:
    found: Hub = app.state.live
    return found


def updates(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    return [m for m in messages if m.get("event") == "update"]


async def test_callers_of_one_name_with_different_roles_do_not_share_a_channel(
    app: FastAPI, services: Services
) -> None:
    viewer = await token(services, "ops", Role.VIEWER)
    admin = await token(services, "ops", Role.ADMIN)
    async with live(app, "/live/jobs", viewer) as one, live(app, "/live/jobs", admin) as other:
        for stream in (one, other):
            assert await stream.status == 200
            await stream.until(lambda got: len(updates(got)) == 1)
        principals = [key[2] for key in hub(app).channels]
    assert all(isinstance(p, Principal) and str(p) == "service:ops" for p in principals)
    roles = {p.roles for p in principals if isinstance(p, Principal)}
    assert roles == {frozenset({Role.VIEWER}), frozenset({Role.ADMIN})}
    assert hub(app).channels == {}


async def test_a_reader_cannot_watch_an_admin_only_audit_trail(
    app: FastAPI, services: Services
) -> None:
    audited = uuid4()
    admin = await token(services, "ops", Role.ADMIN, audited)
    viewer = await token(services, "ops", Role.VIEWER)
    path = f"/live/audit/token/{audited}"
    async with live(app, path, admin) as watched:
        assert await watched.status == 200
        got = await watched.until(lambda got: len(updates(got)) == 1)
        assert 'id="audit-events"' in got[0]["data"]
        async with live(app, path, viewer) as refused:
            assert await refused.status == 403
        assert len(hub(app).channels) == 1


async def test_a_member_the_page_refuses_is_ended_and_the_others_keep_their_updates(
    app: FastAPI, services: Services, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Both tokens name one identity, so they share a channel; revoking the newer one makes
    the next render, which uses its credentials first, refused."""
    older = await token(services, "ops", Role.VIEWER)
    newer_id = uuid4()
    newer = await token(services, "ops", Role.VIEWER, newer_id)
    async with live(app, "/live/jobs", older) as kept:
        assert await kept.status == 200
        await kept.until(lambda got: len(updates(got)) == 1)
        async with live(app, "/live/jobs", newer) as dropped:
            assert await dropped.status == 200
            await dropped.until(lambda got: len(updates(got)) == 1)
            assert len(hub(app).channels) == 1
            revoked = await services.access.revoke(_cause(), newer_id, "test")
            await services.runner.wait_for(revoked.seq, 5)
            job = await create_job(client)

            assert (await dropped.until(lambda got: ENDED in got))[-1] == ENDED
            got = await kept.until(lambda got: any(job["job_id"] in m["data"] for m in got))
            assert int(got[-1]["id"]) >= job["seq"]
            assert ENDED not in got
    assert not [r for r in caplog.records if r.name.startswith("api.live") and r.exc_info]


async def test_a_job_page_in_another_spelling_of_its_id_streams_and_a_redirect_is_no_page(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    viewer = await token(services, "ops", Role.VIEWER)
    created = await create_job(client)
    await services.runner.wait_for(created["seq"], 5)  # the page is of what the models hold
    job_id = UUID(created["job_id"])
    async with live(app, f"/live/jobs/{job_id.hex}", viewer) as stream:
        assert await stream.status == 200
        got = await stream.until(lambda got: len(updates(got)) == 1)
        assert "." in got[0]["id"]  # S.L: the page follows the job's log
    async with live(app, "/live/jobs/", viewer) as slashed:
        assert await slashed.status == 404
    async with live(app, "/live/jobs?after=%D9%A1%D9%A2", viewer) as arabic_digits:
        assert await arabic_digits.status == 422


@pytest.mark.parametrize(
    ("page", "panel"), [("/agents", 'id="pools"'), ("/deployments", 'id="services"')]
)
async def test_a_pool_or_a_service_that_appears_later_shows_live(
    app: FastAPI, client: httpx.AsyncClient, services: Services, page: str, panel: str
) -> None:
    """A list is one panel: an element that is not on the page yet has nothing to replace."""
    viewer = await token(services, "ops", Role.VIEWER)
    async with live(app, "/live" + page, viewer) as stream:
        assert await stream.status == 200
        await stream.until(lambda got: len(updates(got)) == 1)
        if page == "/agents":
            ok(await client.post("/api/pools", json={"name": "later"}), 201)
            new = 'id="pool-later"'
        else:
            await create_deployment(client, service_name="later")
            new = 'id="service-later"'
        got = await stream.until(lambda got: any(new in m["data"] for m in got))
    assert got[-1]["data"].startswith(f'<div hx-swap-oob="true" {panel} class="panel cards">')


def test_a_refusal_is_answered_as_an_event_source_can_take_it() -> None:
    assert [refusal_status(s) for s in (303, 307, 401, 403, 404, 422)] == [
        401,
        404,
        401,
        403,
        404,
        422,
    ]


def test_the_job_of_a_path_is_the_job_page_s_own_reading_of_it() -> None:
    job_id = uuid4()
    assert job_of(f"/jobs/{job_id}") == job_id
    assert job_of(f"/jobs/{job_id.hex}") == job_id
    assert job_of(f"/audit/job/{job_id}") is None
    assert job_of("/jobs") is None
    assert job_of(f"/jobs/{job_id}/x") is None
