"""The agent health monitor as its own process: `python -m workers.health_monitor`.

It needs the read models (which agents exist, what they run), so it opens the same services
as the API; `make run` starts it beside the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from infra.health_monitor import HealthMonitor
from infra.services import open_services
from infra.settings import Settings


async def run(settings: Settings) -> None:
    services = await open_services(settings, "jetdeck-health-monitor")
    monitor = HealthMonitor(services.nc, services.agents)
    await monitor.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await monitor.stop()
        await services.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(Settings()))


if __name__ == "__main__":
    main()
