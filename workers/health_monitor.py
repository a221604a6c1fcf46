"""The agent health monitor as its own process: `python -m workers.health_monitor`.

It needs the read models (which agents exist, what they run), so it opens the same services
as the API; `make run` starts it beside the API.
"""

from __future__ import annotations

from infra.health_monitor import HealthMonitor
from infra.services import open_services
from infra.settings import Settings
from workers.process import run_worker, until_signalled


async def run(settings: Settings) -> None:
    services = await open_services(settings, "jetdeck-health-monitor", dashboard=False)
    monitor = HealthMonitor(services.nc, services.agents)
    await monitor.start()
    try:
        await until_signalled()
    finally:
        await monitor.stop()
        await services.close()


def main() -> None:
    run_worker("health_monitor", run)


if __name__ == "__main__":
    main()
