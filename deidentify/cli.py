"""Command line: ``deidentify preview | schema check | schema test | run | central | generate |
dashboards grafana | demo``.

Heavy modules (faust, aiokafka, prometheus_client) are imported inside the subcommands that
need them, so ``deidentify preview`` and ``deidentify schema ...`` start fast.

Exit codes: 0 done, 1 a check or example failed / the runtime failed, 2 unusable invocation
(bad flags, unreadable file, invalid schema).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _schemas_default() -> str:
    env = _env("DEIDENTIFY_SCHEMAS")
    if env:
        return env
    from deidentify.schema import default_schema_dir
    shipped = default_schema_dir()
    if shipped.is_dir():
        return str(shipped)
    return "schemas"


def _add_schemas(p: argparse.ArgumentParser) -> None:
    from deidentify.runtime.settings import SCHEMAS, add_flags
    add_flags(p, [SCHEMAS])


def _add_bootstrap(p: argparse.ArgumentParser) -> None:
    from deidentify.runtime.settings import BOOTSTRAP, add_flags
    add_flags(p, [BOOTSTRAP])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deidentify",
        description="De-identify regional telemetry into allowlisted aggregates.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("preview", help="run the pipeline over a JSON-lines file, offline")
    _add_schemas(p)
    p.add_argument("--region", default="preview", help="region label for the aggregates")
    p.add_argument("file", metavar="FILE|-", help="raw events, one JSON object per line")

    p = sub.add_parser("schema", help="validate, lint and test allowlist schemas")
    schema_sub = p.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    for name, text in (("check", "validate and lint; print worst-case series per window"),
                       ("test", "run every schema's examples")):
        sp = schema_sub.add_parser(name, help=text)
        _add_schemas(sp)

    # run and central: every flag comes from the settings' declarations (one Setting each)
    from deidentify.central.settings import CENTRAL_SETTINGS
    from deidentify.runtime.settings import add_flags
    from deidentify.sidecar.settings import RUN_SETTINGS
    p = sub.add_parser("run", help="the regional sidecar: raw topics -> central topic")
    add_flags(p, RUN_SETTINGS)
    p = sub.add_parser("central", help="the central collector: aggregates -> dashboards")
    add_flags(p, CENTRAL_SETTINGS)

    p = sub.add_parser("generate", help="produce synthetic raw telemetry full of fake PII")
    _add_bootstrap(p)
    p.add_argument("--region", default="eu")
    p.add_argument("--rate", type=float, default=None, help="events per second (default: max)")
    p.add_argument("--count", type=int, default=None, help="events to produce (default: forever)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--topic-prefix", default=None,
                   help="prefix for raw topic names, e.g. 'eu.' when several regions share one "
                        "broker (default: none, the topics the schemas declare)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write JSON lines to FILE instead of Kafka (needs --count)")
    p.add_argument("--schemas", default=None, metavar="DIR",
                   help="generate plausible events for every schema in DIR from its declared "
                        "fields (enum values, measure bounds, routes, hosts, subjects) and "
                        "produce them to each schema's source.topic (default: the built-in "
                        "generator of the three shipped event kinds)")

    p = sub.add_parser("dashboards", help="generate dashboards from the schemas")
    dash_sub = p.add_subparsers(dest="dashboards_command", required=True, metavar="KIND")
    dp = dash_sub.add_parser("grafana", help="a Grafana dashboard JSON: a row per schema, "
                                             "then collector and sidecar health")
    _add_schemas(dp)
    dp.add_argument("--out", default=None, metavar="FILE",
                    help="write the JSON to FILE (default: standard output)")

    p = sub.add_parser("demo", help="broker + two sidecars + central + generator, live")
    _add_bootstrap(p)
    p.add_argument("--duration", default=None, metavar="DURATION",
                   help="stop by itself after e.g. 90s (default: until Ctrl-C)")
    p.add_argument("--port", type=int, default=8090, help="dashboard port")
    p.add_argument("--rate", type=float, default=2000.0, help="raw events/s per region")
    p.add_argument("--schemas", default=None, metavar="DIR",
                   help="allowlist schemas for the sidecars and the collector (default: the "
                        "shipped schemas/); schemas of other event types get generated events")
    return parser


# --------------------------------------------------------------------------- commands


def _load(args: argparse.Namespace):
    from deidentify.errors import SchemaError
    from deidentify.schema import load_schemas
    try:
        return load_schemas(args.schemas or _schemas_default())
    except SchemaError as exc:
        print(f"deidentify: invalid schema: {exc}", file=sys.stderr)
        return None


def cmd_preview(args: argparse.Namespace) -> int:
    from deidentify.preview import run_preview
    schemas = _load(args)
    if schemas is None:
        return EXIT_USAGE
    return run_preview(schemas, args.file, region=args.region, out=sys.stdout.buffer,
                       err=sys.stderr, settle_heap=True)


def cmd_schema(args: argparse.Namespace) -> int:
    from deidentify.schema.lint import lint, route_literal_sources, worst_case_series
    from deidentify.schema_examples import run_examples
    schemas = _load(args)
    if schemas is None:
        return EXIT_USAGE
    if args.schema_command == "check":
        for schema in schemas.schemas:
            findings = lint(schema)
            print(f"{schema.file}: ok: {schema.name} v{schema.version} "
                  f"(type {schema.source_type}, topic {schema.topic}, k={schema.privacy.k}, "
                  f"worst case {worst_case_series(schema)} series per "
                  f"{schema.window.size_ms // 1000}s window)")
            for line in route_literal_sources(schema):
                print(f"  {line}")
            for finding in findings:
                print(f"  {finding}")
        return EXIT_OK
    failed = total = 0
    for schema in schemas.schemas:
        if not schema.examples:
            print(f"{schema.file}: warning: {schema.name} has no examples")
        for result in run_examples(schema):
            total += 1
            if result.passed:
                print(f"PASS {result.schema}: {result.example}")
            else:
                failed += 1
                print(f"FAIL {result.schema}: {result.example}: {result.detail}")
    print(f"{total - failed} passed, {failed} failed")
    return EXIT_FAILED if failed or total == 0 else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from deidentify.sidecar.app import main as sidecar_main
    return sidecar_main(args)


def cmd_central(args: argparse.Namespace) -> int:
    from deidentify.central.app import main as central_main
    return central_main(args)


def cmd_generate(args: argparse.Namespace) -> int:
    if args.schemas is not None:
        return _generate_for_schemas(args)
    from deidentify import generate
    if args.out:
        if args.count is None:
            print("deidentify: --out needs --count", file=sys.stderr)
            return EXIT_USAGE
        generate.write_jsonl(args.out, args.count, seed=args.seed, region=args.region)
        return EXIT_OK
    import asyncio
    bootstrap = args.bootstrap or _env("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    prefix = args.topic_prefix or ""

    def topics(kind: str) -> str:
        return prefix + generate.TOPICS[kind]
    try:
        n = asyncio.run(generate.produce(bootstrap, region=args.region, count=args.count,
                                         rate=args.rate, seed=args.seed, topics=topics))
    except KeyboardInterrupt:
        return EXIT_OK
    print(f"produced {n} events", file=sys.stderr)
    return EXIT_OK


def cmd_dashboards(args: argparse.Namespace) -> int:
    from deidentify.central.export import CentralExport
    from deidentify.errors import SchemaError
    from deidentify.grafana import grafana_dashboard, render
    schemas = _load(args)
    if schemas is None:
        return EXIT_USAGE
    try:    # the same naming checks the collector makes at start-up
        from prometheus_client import CollectorRegistry
        CentralExport(schemas.schemas, CollectorRegistry())
    except SchemaError as exc:
        print(f"deidentify: invalid schema: {exc}", file=sys.stderr)
        return EXIT_USAGE
    text = render(grafana_dashboard(schemas.schemas))
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.out).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"deidentify: cannot write {args.out} ({exc.strerror or type(exc).__name__})",
              file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {args.out}: {len(schemas.schemas)} schemas", file=sys.stderr)
    return EXIT_OK


def _generate_for_schemas(args: argparse.Namespace) -> int:
    from deidentify import generate_schema
    schemas = _load(args)
    if schemas is None:
        return EXIT_USAGE
    if args.out:
        if args.count is None:
            print("deidentify: --out needs --count", file=sys.stderr)
            return EXIT_USAGE
        import time
        generate_schema.write_jsonl(args.out, schemas.schemas, args.count, seed=args.seed,
                                    start_ms=int(time.time() * 1000) - 120_000,
                                    events_per_second=args.rate or 1000.0)
        return EXIT_OK
    import asyncio
    bootstrap = args.bootstrap or _env("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    try:
        n = asyncio.run(generate_schema.produce(bootstrap, schemas.schemas, count=args.count,
                                                rate=args.rate, seed=args.seed,
                                                topic_prefix=args.topic_prefix or ""))
    except KeyboardInterrupt:
        return EXIT_OK
    print(f"produced {n} events", file=sys.stderr)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from deidentify.demo import main as demo_main
    return demo_main(args)


COMMANDS = {"preview": cmd_preview, "schema": cmd_schema, "run": cmd_run,
            "central": cmd_central, "generate": cmd_generate, "dashboards": cmd_dashboards,
            "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "schemas", None) is not None and not Path(args.schemas).exists():
        print(f"deidentify: --schemas {args.schemas}: no such directory", file=sys.stderr)
        return EXIT_USAGE
    return COMMANDS[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
