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
    p.add_argument("--schemas", default=None, metavar="DIR",
                   help="folder of allowlist schemas (env DEIDENTIFY_SCHEMAS; default: the "
                        "shipped schemas/)")


def _add_bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap", default=None, metavar="HOST:PORT",
                   help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP; default 127.0.0.1:9092)")


def _add_web(p: argparse.ArgumentParser, *, access_log: bool = False) -> None:
    """Who may read the HTTP side (see deidentify/webconfig.py and docs/security.md)."""
    p.add_argument("--bind", default=None, metavar="ADDRESS",
                   help="address of the HTTP server (env DEIDENTIFY_BIND; default 127.0.0.1); "
                        "a non-loopback address needs authentication from --web-config")
    p.add_argument("--web-config", default=None, metavar="FILE",
                   help="Prometheus exporter web config: tls_server_config (TLS, client CA) "
                        "and bcrypt basic_auth_users (env DEIDENTIFY_WEB_CONFIG; reloaded "
                        "when it changes)")
    p.add_argument("--insecure-listen", action="store_true", default=None,
                   help="allow a non-loopback --bind without authentication, for a lab "
                        "(env DEIDENTIFY_INSECURE_LISTEN=1); logged as INSECURE")
    p.add_argument("--probe-port", type=int, default=None, metavar="PORT",
                   help="also serve /livez and /readyz, unauthenticated plain HTTP, on this "
                        "port (env DEIDENTIFY_PROBE_PORT; default: only on --port)")
    if access_log:
        p.add_argument("--access-log", default=None, metavar="FILE",
                       help="append the dashboard/API access log to FILE, mode 0600 (env "
                            "DEIDENTIFY_ACCESS_LOG; default: the process log, logger "
                            "deidentify.access)")


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

    p = sub.add_parser("run", help="the regional sidecar: raw topics -> central topic")
    p.add_argument("--region", default=None, help="region name (env DEIDENTIFY_REGION)")
    _add_bootstrap(p)
    _add_schemas(p)
    p.add_argument("--group", default=None,
                   help="consumer group (env DEIDENTIFY_GROUP; default deidentify-<region>)")
    p.add_argument("--central-topic", default=None,
                   help="central aggregates topic; this sidecar publishes to "
                        "<topic>.<region> (env DEIDENTIFY_CENTRAL_TOPIC; default "
                        "telemetry.central.aggregates)")
    p.add_argument("--port", type=int, default=None,
                   help="health and metrics port (env DEIDENTIFY_PORT; default 8080)")
    p.add_argument("--topic-prefix", default=None,
                   help="prefix for the raw topics the schemas declare, e.g. 'eu.' "
                        "(env DEIDENTIFY_TOPIC_PREFIX; default none)")
    p.add_argument("--idle", default=None, metavar="DURATION",
                   help="a partition read to its end with no new events this long stops "
                        "holding windows open; all idle: windows close by wall clock "
                        "(env DEIDENTIFY_IDLE; default 30s)")
    p.add_argument("--k-floor", type=int, default=None, metavar="K",
                   help="deployment-wide minimum k: a schema with a lower privacy.k is "
                        "refused (env DEIDENTIFY_K_FLOOR; default 5, can only be raised)")
    p.add_argument("--max-future", default=None, metavar="DURATION",
                   help="reject events whose time is further than this ahead of the wall "
                        "clock, counted as future_timestamp (env DEIDENTIFY_MAX_FUTURE; "
                        "default 5m)")
    # --- run: commit cadence and Kafka security (see deidentify/sidecar/settings.py) ---
    p.add_argument("--commit-interval", default=None, metavar="DURATION",
                   help="commit offsets in a transaction at least this often while events "
                        "flow (env DEIDENTIFY_COMMIT_INTERVAL; default 1s)")
    p.add_argument("--at-least-once", action="store_true", default=None,
                   help="publish without transactions and commit offsets after the aggregates "
                        "are acknowledged: a crash can publish a window twice (the central "
                        "collector drops the duplicates by key). Exists to measure the cost "
                        "of exactly-once, which is the default (env DEIDENTIFY_AT_LEAST_ONCE=1)")
    p.add_argument("--security-protocol", default=None,
                   choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
                   help="Kafka security protocol (env KAFKA_SECURITY_PROTOCOL; default "
                        "PLAINTEXT)")
    p.add_argument("--sasl-mechanism", default=None,
                   choices=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
                   help="SASL mechanism (env KAFKA_SASL_MECHANISM; default SCRAM-SHA-512)")
    p.add_argument("--sasl-username", default=None,
                   help="SASL user name (env KAFKA_SASL_USERNAME)")
    p.add_argument("--sasl-password-file", default=None, metavar="FILE",
                   help="file holding the SASL password (env KAFKA_SASL_PASSWORD_FILE, or the "
                        "password itself in env KAFKA_SASL_PASSWORD; never a flag)")
    p.add_argument("--ssl-cafile", default=None, metavar="FILE",
                   help="CA certificate(s) to verify the brokers, PEM (env KAFKA_SSL_CAFILE; "
                        "default: the system's trusted CAs)")
    p.add_argument("--ssl-certfile", default=None, metavar="FILE",
                   help="client certificate for mTLS to the brokers, PEM (env "
                        "KAFKA_SSL_CERTFILE; needs --ssl-keyfile)")
    p.add_argument("--ssl-keyfile", default=None, metavar="FILE",
                   help="the client certificate's private key, PEM, unencrypted (env "
                        "KAFKA_SSL_KEYFILE)")
    _add_web(p)

    p = sub.add_parser("central", help="the central collector: aggregates -> dashboards")
    _add_bootstrap(p)
    p.add_argument("--topic", default=None,
                   help="central aggregates topic; each region's sidecar publishes to "
                        "<topic>.<region> (env DEIDENTIFY_CENTRAL_TOPIC; default "
                        "telemetry.central.aggregates)")
    p.add_argument("--regions", default=None, metavar="LIST",
                   help="the regions to read, comma-separated, e.g. eu,us: topics "
                        "<topic>.<region>; the region of an aggregate must match its topic "
                        "(env DEIDENTIFY_REGIONS; required)"),
    _add_schemas(p)
    p.add_argument("--port", type=int, default=None,
                   help="dashboard and metrics port (env DEIDENTIFY_PORT; default 8090)")
    p.add_argument("--k-floor", type=int, default=None, metavar="K",
                   help="deployment-wide minimum k: a schema with a lower privacy.k is "
                        "refused (env DEIDENTIFY_K_FLOOR; default 5, can only be raised)")
    _add_web(p, access_log=True)

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
                       err=sys.stderr)


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
