"""Command line: ``deidentify preview | schema check | schema test | run | central | generate | demo``.

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
                   help="central aggregates topic (env DEIDENTIFY_CENTRAL_TOPIC; default "
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

    p = sub.add_parser("central", help="the central collector: aggregates -> dashboards")
    _add_bootstrap(p)
    p.add_argument("--topic", default=None,
                   help="central aggregates topic (env DEIDENTIFY_CENTRAL_TOPIC)")
    _add_schemas(p)
    p.add_argument("--port", type=int, default=None,
                   help="dashboard and metrics port (env DEIDENTIFY_PORT; default 8090)")

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

    p = sub.add_parser("demo", help="broker + two sidecars + central + generator, live")
    _add_bootstrap(p)
    p.add_argument("--duration", default=None, metavar="DURATION",
                   help="stop by itself after e.g. 90s (default: until Ctrl-C)")
    p.add_argument("--port", type=int, default=8090, help="dashboard port")
    p.add_argument("--rate", type=float, default=2000.0, help="raw events/s per region")
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
    from deidentify.schema.lint import lint, run_examples, worst_case_series
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


def cmd_demo(args: argparse.Namespace) -> int:
    from deidentify.demo import main as demo_main
    return demo_main(args)


COMMANDS = {"preview": cmd_preview, "schema": cmd_schema, "run": cmd_run,
            "central": cmd_central, "generate": cmd_generate, "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "schemas", None) is not None and not Path(args.schemas).exists():
        print(f"deidentify: --schemas {args.schemas}: no such directory", file=sys.stderr)
        return EXIT_USAGE
    return COMMANDS[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
