"""The demo's broker: the lease on the local broker and this run's topics.

``lease(run, "acquire" | "release")`` runs ``scripts/kafka.sh acquire|release <our pid>``:
acquire starts the local broker when nothing answers on the bootstrap address; release
stops it only if this run started it and nobody else still uses it. A broker someone else
runs is left alone. ``create_topics`` makes this run's raw, generic and central topics
(3 partitions each) and waits for their leaders; ``delete_topics`` deletes them and the
run's consumer groups at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time

from deidentify.demo.settings import BROKER_TIMEOUT_S, KAFKA_SH, REGIONS, DemoRun, say
from deidentify.errors import DeidentifyError


def lease(run: DemoRun, command: str) -> bool:
    """``scripts/kafka.sh acquire|release <our pid>``; False when there is no script."""
    if not KAFKA_SH.is_file():
        return False
    env = dict(os.environ, KAFKA_BOOTSTRAP=run.bootstrap)
    result = subprocess.run([str(KAFKA_SH), command, str(os.getpid())], env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=BROKER_TIMEOUT_S, check=False)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise DeidentifyError(f"scripts/kafka.sh {command} failed: " + " / ".join(tail))
    return True


async def broker_answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when a metadata request to ``bootstrap`` lists at least one broker."""
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return bool(client.cluster.brokers())
    except Exception:
        return False
    finally:
        await client.close()


async def create_topics(run: DemoRun) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from deidentify.generate import TOPICS
    names = [run.raw_topic(region, kind) for region, _p, _s in REGIONS for kind in TOPICS]
    names += sorted({f"{run.prefix}{region}.{s.topic}" for region, _p, _s in REGIONS
                     for s in run.generic} - set(names))
    names += [f"{run.central_topic}.{region}" for region, _p, _s in REGIONS]
    admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 3, 1) for n in names])
        deadline = time.monotonic() + 30
        while True:
            described = await admin.describe_topics(names)
            ok = [t for t in described if not t["error_code"] and t["partitions"]
                  and all(p["leader"] >= 0 for p in t["partitions"])]
            if len(ok) == len(names):
                break
            if time.monotonic() > deadline:
                raise DeidentifyError("the demo topics did not get partition leaders in 30s")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    run.topics = names


async def delete_topics(run: DemoRun) -> None:
    if not run.topics:
        return
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap, request_timeout_ms=15_000)
    try:
        await asyncio.wait_for(admin.start(), 15)
        await asyncio.wait_for(admin.delete_topics(run.topics), 15)
        with contextlib.suppress(Exception):
            groups = [f"deidentify-demo-{run.run_id}-{r}" for r, _p, _s in REGIONS]
            groups.append(f"deidentify-demo-{run.run_id}-central")
            await asyncio.wait_for(admin.delete_consumer_groups(groups), 15)
    except Exception as exc:
        say(f"could not delete this run's topics ({type(exc).__name__}); they start with "
            f"{run.prefix}")
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
