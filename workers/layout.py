"""The layout step on its own: `python -m workers.layout` declares JetDeck's streams and buckets
on JETDECK_NATS_URL as the layout user (JETDECK_NATS_ADMIN_USER and _PASSWORD), then exits.

`make run` takes this step itself. A deployment on a cluster of its own runs it before the API and
the workers, at the first start and at every upgrade; they only check that it was taken.
"""

from __future__ import annotations

import asyncio

from infra.layout import apply_layout
from infra.logging_setup import configure_logging
from infra.settings import Settings


def main() -> None:
    configure_logging()
    settings = Settings()
    layout = apply_layout(
        settings.server_url, settings.layout_login, settings.replicas, settings.log_max_age_s
    )
    asyncio.run(layout)


if __name__ == "__main__":
    main()
