"""The demo's main sequence: lease, topics, children, generators, view, and the way out.

``main`` parses the settings and runs ``run_demo``, which does the steps of the package
docstring in order and, whatever happens, stops the generators, stops every child,
deletes the run's topics and releases the broker (``finally``). Exit codes: 0 when every
child exited 0, 1 on a failure, 2 for a usage error. Errors are printed as their message
(our own errors carry no event value) or, for anything else, as the exception class only.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import time
from typing import Any

from deidentify.demo.broker import broker_answers, create_topics, delete_topics, lease
from deidentify.demo.children import port_free, start_children, stop_children, wait_ready
from deidentify.demo.settings import (
    BACKFILL_MS,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    REGIONS,
    WINDOW_MS,
    DemoRun,
    parse_settings,
    say,
)
from deidentify.demo.view import fetch_summary, show
from deidentify.errors import DeidentifyError, SchemaError, SettingsError


async def generate(run: DemoRun, region: str, seed: int, stop: asyncio.Event,
                   generic: bool = False) -> int:
    """One region's traffic: two minutes of event time backfilled, then the wall clock.

    Event time starts ``BACKFILL_MS`` before the current minute, so the backlog is sent at
    full speed (the sidecars close those windows at once) and then sending follows the wall
    clock at ``run.rate`` events/s: the pacing of :func:`deidentify.generate.produce_records`,
    the producer ``deidentify generate`` runs. ``generic``: events for the loaded schemas
    that have no dedicated generator (:mod:`deidentify.generate_schema`) on their
    region-prefixed ``source.topic``; else the built-in generator of the three shipped
    event kinds. Returns when ``stop`` is set."""
    from deidentify.generate import TOPICS, TelemetryGenerator, produce_records
    from deidentify.generate_schema import SchemaEventGenerator

    now_ms = int(time.time() * 1000)
    start_ms = now_ms - now_ms % WINDOW_MS - BACKFILL_MS
    name = f"{region} (new schemas)" if generic else region
    if generic:
        schema_topics = {s.name: f"{run.prefix}{region}.{s.topic}" for s in run.generic}
        records: Any = SchemaEventGenerator(run.generic, seed=seed, start_ms=start_ms,
                                            events_per_second=run.rate).records

        def topic_of(schema: Any) -> str:
            return schema_topics[schema.name]
    else:
        records = TelemetryGenerator(seed=seed, region=region, start_ms=start_ms,
                                     events_per_second=run.rate).records
        topic_of = {kind: run.raw_topic(region, kind) for kind in TOPICS}.__getitem__
    run.produced[name] = 0

    def progress(sent: int) -> None:
        run.produced[name] = sent
    return await produce_records(run.bootstrap, records, topic_of, count=None, rate=run.rate,
                                 start_ms=start_ms, stop=stop, on_progress=progress,
                                 client_id=f"demo-gen-{region}")


async def run_demo(run: DemoRun) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    generators: list[asyncio.Task] = []
    result = EXIT_OK
    last: dict | None = None
    try:
        answered = await broker_answers(run.bootstrap)
        if not answered:
            say(f"no broker answers on {run.bootstrap}: starting the local one "
                "(scripts/kafka.sh; the very first start downloads Kafka, be patient)")
        run.leased = await loop.run_in_executor(None, lease, run, "acquire")
        if not run.leased and not answered:
            raise DeidentifyError(f"no Kafka broker answers on {run.bootstrap} and "
                                  "scripts/kafka.sh is not here to start one")
        if not await broker_answers(run.bootstrap, 15.0):
            raise DeidentifyError(f"no Kafka broker answers on {run.bootstrap}")
        broker_note = "started for the demo" if not answered else "already running"
        await create_topics(run)
        say(f"created {len(run.topics)} topics {run.prefix}*")
        if not port_free(run.port):
            raise SettingsError(f"port {run.port} is busy: pass --port with a free port")
        start_children(run)
        await wait_ready(run, stop)
        say(f"dashboard: {run.dashboard} (log in as user '{run.user}' with password "
            f"'{run.password}'; this run's web config: {run.web_config})")
        deadline = None if run.duration_s is None else time.monotonic() + run.duration_s
        if deadline is not None:
            loop.call_later(run.duration_s, stop.set)
        for region, _port, seed in REGIONS:
            generators.append(asyncio.create_task(generate(run, region, seed, stop)))
            if run.generic:
                generators.append(asyncio.create_task(
                    generate(run, region, seed, stop, generic=True)))
        view = asyncio.create_task(show(run, stop, deadline, broker_note))
        done, _ = await asyncio.wait([view, *generators], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is not None:
                raise task.exception()
        last = view.result() if view.done() else await view
    except DeidentifyError as exc:
        say(f"error: {exc}")
        result = EXIT_USAGE if isinstance(exc, SettingsError) else EXIT_FAILED
    except Exception as exc:
        say(f"error: {type(exc).__name__} (message withheld)")
        result = EXIT_FAILED
    finally:
        stop.set()
        for task in generators:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 15)
        if run.children:     # what the collector holds, just before it stops
            last = await fetch_summary(run) or last
        say("stopping " + ", ".join(f"{c.name} (pid {c.pid})" for c in run.children)
            if run.children else "nothing to stop")
        clean = await loop.run_in_executor(None, stop_children, run)
        if not clean and result == EXIT_OK:
            result = EXIT_FAILED
        await delete_topics(run)
        if run.leased:
            try:
                await loop.run_in_executor(None, lease, run, "release")
            except DeidentifyError as exc:
                say(f"warning: {exc}")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if last is not None:
        regions = last.get("regions", {})
        counts = ", ".join(
            f"{r}: {sum(s['events'] for s in e.get('schemas', {}).values()):,} events in "
            f"{sum(s['windows'] for s in e.get('schemas', {}).values())} schema windows"
            for r, e in sorted(regions.items()))
        say(f"central received aggregates from {len(regions)} region(s) "
            f"[{','.join(sorted(regions))}]: {counts or 'none'}")
    say(f"all {len(run.children)} processes stopped; exit {result}")
    if result == EXIT_OK:
        shutil.rmtree(run.logs, ignore_errors=True)
    else:
        say(f"logs kept in {run.logs}")
    return result


def main(args: Any) -> int:
    try:
        run = parse_settings(args)
    except (SettingsError, SchemaError) as exc:
        print(f"deidentify demo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(run_demo(run))
