"""The quixstreams contender: ``Application`` + ``StreamingDataFrame`` with a tumbling window.

``python -m benchmarks.quix_app --bootstrap B --prefix P --central T --group G
--state-dir DIR --expect N --result FILE [--guarantee at-least-once|exactly-once]``

Per raw topic (one schema each), the dataframe a quixstreams user writes for "aggregate these
events per cell and minute, publish final windows":

    sdf = app.dataframe(raw_topic)
    sdf = sdf.apply(extract, expand=True)          # orjson + deidentify's compiled schema
    sdf = sdf.group_by(cell_key)                   # cells are not the message key: repartition
    sdf = sdf.tumbling_window(60 s, grace 10 s).reduce(update_cell, new_cell).final()
    sdf = sdf.filter(at_least_k_subjects).apply(to_aggregate).to_topic(central)

``extract`` is deidentify's own ``CompiledSchema.extract`` (same typed transforms), and the
cell update is deidentify's measure updater, so the comparison is about the runtime. The
``group_by`` is what quixstreams needs to aggregate by something other than the message key
across partitions (the sidecar aggregates every partition in one process); it re-produces each
valid event to a repartition topic. Windows use the record timestamp (= event time in the
benchmark data set). State: quixstreams' defaults (RocksDB + changelog topics).

The measured span is from the first raw event to the moment every valid event has passed the
repartition and reached the window (counted by an ``update`` before the window), after all
``N`` raw events were seen; then ``app.stop()``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings

import orjson

from benchmarks.measure import Measurement, max_rss_bytes, self_timer, write_result


def build_app(args: argparse.Namespace):
    from quixstreams import Application

    from benchmarks.dataset import raw_topics
    from deidentify.contract import DropReason
    from deidentify.schema import load_schemas
    from deidentify.window import initial_measure, make_updater

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        loglevel="WARNING",
        processing_guarantee=args.guarantee,
    )
    central = app.topic(args.central, value_serializer="bytes", key_serializer="str")
    schemas = load_schemas()
    # "target": the valid events of the first ``expect`` raw events; once it is known, later
    # raw events are only counted (not parsed), and the run ends when the target has arrived
    state = {"seen": 0, "valid": 0, "arrived": 0, "start": None, "done": False,
             "target": None}
    expect = args.expect

    def finish() -> None:
        end = self_timer()
        start = state["start"] or end
        m = Measurement(expect - 1, end[1] - start[1], end[0] - start[0],
                        max_rss_bytes(), total_cpu_s=time.process_time(),
                        extra={"valid": state["target"], "seen_at_finish": state["seen"],
                               "guarantee": args.guarantee})
        write_result(args.result, m)
        app.stop()

    def arrived(_value) -> None:
        state["arrived"] += 1
        target = state["target"]
        if not state["done"] and target is not None and state["arrived"] >= target:
            state["done"] = True
            finish()

    def extract_one(value: bytes, cs) -> list:
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
        if type(event) is not dict:
            return []
        x = cs.extract(event)
        if type(x) is DropReason:
            return []
        state["valid"] += 1
        subject = x.subject
        h = None if subject is None else hash(subject if type(subject) is str else repr(subject))
        return [{"c": orjson.dumps(x.dims).decode(), "s": h, "v": list(x.values)}]

    for kind, topic_name in raw_topics(args.prefix).items():
        (cs,) = schemas.by_type[kind]
        k = cs.schema.privacy.k
        update = make_updater(cs)
        dim_names = cs.dimension_names

        def extract(value: bytes, cs=cs) -> list:
            state["seen"] += 1
            if state["start"] is None:
                state["start"] = self_timer()
            if state["target"] is not None:
                return []
            out = extract_one(value, cs)
            if state["seen"] >= expect:
                state["target"] = state["valid"]
            return out

        def new_cell(r: dict, cs=cs, k=k, update=update) -> list:
            cell = [0, [], *[initial_measure(m) for m in cs.measures]]
            return update_cell(cell, r, k=k, update=update)

        def update_cell(cell: list, r: dict, k=k, update=update) -> list:
            cell[0] += 1
            h = r["s"]
            if h is not None and len(cell[1]) < k and h not in cell[1]:
                cell[1].append(h)
            update(cell, r["v"])
            return cell

        def to_aggregate(w: dict, cs=cs, dim_names=dim_names) -> bytes:
            cell = w["value"]
            return orjson.dumps({
                "schema": cs.name, "schema_version": cs.version, "region": "quix",
                "window": {"start": w["start"], "end": w["end"]},
                "measures": {"count": cell[0], "values": cell[2:]},
                "dims_names": dim_names})

        topic = app.topic(topic_name, value_deserializer="bytes", key_deserializer="bytes")
        sdf = app.dataframe(topic)
        sdf = sdf.apply(extract, expand=True)
        sdf = sdf.group_by(lambda r: r["c"], name=f"cell-{cs.name}")
        sdf = sdf.update(arrived)
        sdf = sdf.tumbling_window(60_000, grace_ms=10_000, name=f"w-{cs.name}") \
                 .reduce(update_cell, new_cell).final()
        sdf = sdf.filter(lambda w, k=k: len(w["value"][1]) >= k)
        sdf = sdf.apply(to_aggregate)
        sdf.to_topic(central)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quix_app")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True, help="raw topic prefix")
    parser.add_argument("--central", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--expect", type=int, required=True, help="raw events to process")
    parser.add_argument("--guarantee", default="at-least-once",
                        choices=("at-least-once", "exactly-once"))
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING)
    app = build_app(args)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
