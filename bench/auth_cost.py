"""What authenticating a request costs: the same read with a credential, and with auth off.

One API app in this process, on the bench's nats-server, driven through httpx's ASGI transport
(no sockets, so the figure is the app's own work). "Off" swaps the authentication dependency
for one that hands back an admin principal at once, which is what a request cost before
principals existed. Blocks of requests alternate between the two modes so that drift in the
machine's load falls on both alike; the figure is the median latency of each, and their
difference is the cost of authentication (target: at most 0.2 ms).

    python -m bench.auth_cost [--quick]
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from api.app import create_app
from bench.common import nats_server, parse_args, run_main
from bench.figures import Figure, median, print_figure
from domain.identity import Principal, PrincipalKind, Role
from infra.services import Services
from infra.sessions import LoginIdentity
from infra.settings import Settings

NAME = "auth cost"
ADMIN_TOKEN = "jdsvc_bench-admin-token-0123456789abcdefghijklmno"
ADMIN = Principal(PrincipalKind.SERVICE, "admin", frozenset({Role.ADMIN}))
VIEWER = LoginIdentity(provider="bench", subject="bench-viewer", email="viewer@example.com")
BLOCK = 100


@dataclass(frozen=True)
class Trusting:
    """Auth off: whatever is presented is taken to be `principal`, with no work at all."""

    who: Principal

    async def principal(self, _: str) -> Principal:
        return self.who


@dataclass(frozen=True)
class Case:
    """One request, the credential it carries, and who it is once authenticated."""

    label: str
    request: httpx.Request
    principal: Principal

    async def latencies(self, client: httpx.AsyncClient, count: int) -> list[float]:
        out = []
        for _ in range(count):
            started = time.perf_counter()
            response = await client.send(self.request)
            out.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        return out

    async def compare(self, app: FastAPI, client: httpx.AsyncClient, blocks: int) -> Figure:
        """Median milliseconds per request with auth on and off, in alternating blocks."""

        services = app.state.services
        real = services.authn
        on: list[float] = []
        off: list[float] = []
        await self.latencies(client, BLOCK)  # warm up
        for _ in range(blocks):
            on += await self.latencies(client, BLOCK)
            services.authn = Trusting(self.principal)
            off += await self.latencies(client, BLOCK)
            services.authn = real
        metric = f"{self.label}: median ms, on vs off"
        target = "difference ≤ 0.2 ms"
        return Figure(NAME, metric, median(on) * 1e3, median(off) * 1e3, False, target=target)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _session(client: httpx.AsyncClient, services: Services) -> tuple[str, Principal]:
    """A logged-in viewer's session token, and the user principal it authenticates as."""
    principal = f"{PrincipalKind.USER}:{VIEWER.email}"
    grant = {"role": Role.VIEWER.value}
    roles = f"/api/auth/users/{principal}/roles"
    response = await client.post(roles, json=grant, headers=_bearer(ADMIN_TOKEN))
    assert response.status_code == 200, response.text
    return await services.sessions.create(VIEWER), services.access.user(VIEWER.email)


async def _cases(client: httpx.AsyncClient, settings: Settings, services: Services) -> list[Case]:
    host = {"hostname": "h", "os": "linux", "arch": "x86_64", "cpu_count": 1, "memory_mb": 64}
    body = {"name": "bench", "host": host}
    auth = _bearer(settings.registration_token.get_secret_value())
    answer = (await client.post("/api/agents/register", json=body, headers=auth)).json()
    agent_id, agent_token = answer["agent_id"], answer["agent_token"]
    beat = {"cpu_pct": 1.0, "mem_pct": 1.0, "disk_pct": 1.0}
    session_token, user = await _session(client, services)
    return [
        Case(
            "service token, GET summary",
            client.build_request("GET", "/api/dashboard/summary", headers=_bearer(ADMIN_TOKEN)),
            ADMIN,
        ),
        Case(
            "agent token, POST heartbeat",
            client.build_request(
                "POST",
                f"/api/agents/{agent_id}/heartbeat",
                json=beat,
                headers=_bearer(agent_token),
            ),
            Principal(PrincipalKind.AGENT, agent_id),
        ),
        Case(
            "session token, GET summary",
            client.build_request("GET", "/api/dashboard/summary", headers=_bearer(session_token)),
            user,
        ),
    ]


async def run(quick: bool) -> list[Figure]:
    blocks = 3 if quick else 20
    print(f"{NAME}: {blocks} x {BLOCK} requests each way, alternating", flush=True)
    figures = []
    async with nats_server() as server:
        with tempfile.TemporaryDirectory(prefix="jetdeck-bench-") as tmp:
            settings = Settings(
                nats_url=server.url, bootstrap_admin_token=ADMIN_TOKEN, data_dir=Path(tmp)
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                    for case in await _cases(client, settings, app.state.services):
                        figure = await case.compare(app, client, blocks)
                        print_figure(figure)
                        cost = figure.ours - figure.raw
                        print(f"    cost of authenticating: {cost:.3f} ms", flush=True)
                        figures.append(figure)
    return figures


def main() -> None:
    run_main(run(parse_args(__doc__ or NAME).quick))


if __name__ == "__main__":
    main()
