"""A slow SMTP server for benchmark 3: it accepts each message after a fixed delay.

``python -m bench.smtp_server DELAY`` listens on 127.0.0.1 (a free port), prints
``ready PORT`` and serves until killed. The delay is an ``asyncio.sleep`` in
``handle_DATA``, so connections wait concurrently, as at a distant relay.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiosmtpd.smtp import SMTP


class SlowHandler:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        self.received += 1
        return "250 Message accepted for delivery"


async def serve(delay: float) -> None:
    handler = SlowHandler(delay)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(float(sys.argv[1])))
