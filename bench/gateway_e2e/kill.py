"""A SIGKILL in the middle of the run: nothing the outbox had made durable is lost.

The poller is told "kept" only once its batch is durable; so after ``kill -9`` every batch in
the outbox file is one the poller was told was kept. The check: the collector is stopped for a
few slots, so that the outbox holds batches sent and not receipted (with a collector running,
receipts empty it within a slot and the kill would find nothing to lose); the gateway is then
killed while polling, the batches its outbox holds are read from the file, both services are
started again, and every one of those batches must reach the collector's store. Slots while
the gateway was down were never polled (the gap is the outage itself, no loss).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.gateway_e2e.services import (
    log_errors,
    outbox_slots,
    services,
    stored_slots,
    wait_online,
)
from bench.gateway_e2e.site import write_site
from tests.servers import Mosquitto


@dataclass
class KillResult:
    durable_at_kill: int  # batches in the outbox file right after the SIGKILL
    lost: int  # of those, never stored
    stored: int  # polls stored in all
    caught_up_s: float  # from the restart to the last of them stored
    log_errors: int


def kill_check(
    root: Path, broker: Mosquitto, ports: list[int], interval_s: float, run_s: float = 4.0
) -> KillResult:
    site = write_site(root, ports, interval_s)
    collector, gateway = services(root, site, broker)
    collector.start()
    gateway.start()
    try:
        wait_online(gateway, len(ports))
        time.sleep(run_s)
        collector.stop()  # receipts stop: the outbox keeps what it polls from now
        time.sleep(run_s)
        gateway.kill()
        durable = outbox_slots(root)
        restarted = time.time()
        collector.start()
        gateway.start()
        deadline = restarted + 120
        missing = durable - stored_slots(root)
        while missing and time.time() < deadline:
            time.sleep(0.5)
            missing = durable - stored_slots(root)
        caught_up = time.time() - restarted
        time.sleep(2 * interval_s)
    finally:
        gateway.stop()
        collector.stop()
    return KillResult(
        len(durable), len(missing), len(stored_slots(root)), caught_up, log_errors(root)
    )
