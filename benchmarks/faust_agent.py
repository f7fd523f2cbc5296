"""The faust-streaming contender, written the way a faust user would write the job.

``python -m benchmarks.faust_agent --bootstrap B --prefix P --partitions N --central T
--app-id ID --expect N --result FILE``

What a user would do, and what this does:

* one agent iterating the stream of the three raw topics (``async for value in stream``);
* per event: ``orjson.loads`` and deidentify's own compiled schema (``CompiledSchema.extract``:
  the same typed transforms — route templates, registrable hosts, vocabularies — so the
  comparison is about the runtime, not about a cheaper extraction);
* a windowed faust ``Table`` (``tumbling(60 s)`` on the record timestamp, which the data set
  sets to the event time) keyed by schema + dimensions, its value the cell as a JSON list
  ``[count, subject hashes (up to k), *measures]``, updated with deidentify's measure updater
  and written back (``table[key] = cell``, which is what sends the changelog record);
* windows published from ``on_window_close`` when they expire (cells below k dropped).

``--mode pipeline`` is the other way a faust user could reuse deidentify: the agent hands each
event to deidentify's own :class:`~deidentify.pipeline.Pipeline` (its windows, k threshold and
output guard) and publishes what ``close_due()`` returns; it shows what faust's per-event
iteration costs by itself.

Defaults otherwise (at-least-once, in-memory store with a changelog topic, faust's commit
interval). The measured span is from the first event the agent sees to the ``N``-th; then the
result file is written and the harness stops the worker with SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta

import orjson

from benchmarks.measure import Measurement, max_rss_bytes, self_timer, write_result


def build_app(args: argparse.Namespace):
    import faust

    from benchmarks.dataset import raw_topics
    from deidentify.contract import DropReason
    from deidentify.schema import load_schemas
    from deidentify.window import initial_measure, make_updater

    schemas = load_schemas()
    by_type = schemas.by_type
    k_of = {cs.name: cs.schema.privacy.k for cs in schemas.compiled}
    updaters = {cs.name: make_updater(cs) for cs in schemas.compiled}
    names = {cs.name: cs.dimension_names for cs in schemas.compiled}

    app = faust.App(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        topic_partitions=args.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        datadir=args.datadir,
    )
    raw = app.topic(*raw_topics(args.prefix).values(), value_serializer="raw",
                    key_serializer="raw")
    central = app.topic(args.central, value_serializer="raw", key_serializer="raw")

    state = {"seen": 0, "start": None, "valid": 0, "done": False}
    expect = args.expect

    def tick() -> None:
        state["seen"] += 1
        if state["start"] is None:
            state["start"] = self_timer()

    def maybe_finish() -> None:
        if state["seen"] >= expect and not state["done"]:
            state["done"] = True
            finish(args, state)

    if args.mode == "pipeline":
        from deidentify.pipeline import Pipeline
        pipeline = Pipeline(schemas, region="faust")

        @app.agent(raw)
        async def run_pipeline(stream):
            async for event in stream.events():
                tick()
                msg = event.message
                state["valid"] += pipeline.process(event.value, (msg.topic, msg.partition),
                                                   msg.offset)
                if state["seen"] % 1000 == 0:
                    for agg in pipeline.close_due():
                        await central.send(key=agg.key, value=agg.to_json())
                maybe_finish()
        return app

    async def publish(key, cell) -> None:
        cell_key, (start, end) = key
        name, _version, dims = orjson.loads(cell_key)
        if len(cell[1]) < k_of[name]:
            return
        value = {"schema": name, "region": "faust", "window": {"start": start, "end": end},
                 "dims": dict(zip(names[name], dims, strict=True)),
                 "measures": {"count": cell[0], "values": cell[2:]}}
        await central.send(key=cell_key.encode(), value=orjson.dumps(value))

    cells = app.Table("cells", default=list, partitions=args.partitions,
                      on_window_close=publish).tumbling(
        timedelta(seconds=60), expires=timedelta(seconds=70))

    @app.agent(raw)
    async def deidentify_events(stream):
        loads = orjson.loads
        async for value in stream:
            tick()
            try:
                event = loads(value)
            except orjson.JSONDecodeError:
                event = None
            etype = event.get("type") if type(event) is dict else None
            for cs in by_type.get(etype, ()) if type(etype) is str else ():
                x = cs.extract(event)
                if type(x) is DropReason:
                    continue
                state["valid"] += 1
                key = orjson.dumps([cs.name, cs.version, x.dims]).decode()
                cell = cells[key].current()
                if not cell:
                    cell = [0, [], *[initial_measure(m) for m in cs.measures]]
                cell[0] += 1
                if x.subject is not None and len(cell[1]) < k_of[cs.name]:
                    h = hash(x.subject if type(x.subject) is str else repr(x.subject))
                    if h not in cell[1]:
                        cell[1].append(h)
                updaters[cs.name](cell, x.values)
                cells[key] = cell
            maybe_finish()

    return app


def finish(args: argparse.Namespace, state: dict) -> None:
    end = self_timer()
    start = state["start"] or end
    m = Measurement(state["seen"] - 1, end[1] - start[1], end[0] - start[0], max_rss_bytes(),
                    total_cpu_s=time.process_time(),
                    extra={"valid": state["valid"], "seen": state["seen"]})
    write_result(args.result, m)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faust_agent")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True, help="raw topic prefix")
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--central", required=True, help="topic for the aggregates")
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--expect", type=int, required=True, help="events to process")
    parser.add_argument("--mode", choices=("table", "pipeline"), default="table",
                        help="table: windowed faust Table (default); pipeline: deidentify's "
                             "Pipeline called per event from the agent")
    parser.add_argument("--result", required=True)
    parser.add_argument("--datadir", required=True, help="faust's data directory (scratch)")
    args = parser.parse_args(argv)
    import faust
    app = build_app(args)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
