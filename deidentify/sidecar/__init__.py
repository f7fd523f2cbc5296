"""The regional sidecar (``deidentify run``): raw Kafka topics -> central aggregates topic.

Modules: ``settings`` (flags + env, validated), ``kafka`` (clients, TLS/SASL, the one place
aiokafka errors are translated), ``loop`` (getmany batches, pipeline, transactions,
rebalance), ``health`` (/livez, /readyz, /metrics), ``reload`` (schema hot reload),
``app`` (process lifecycle, signals, session supervision; ``main(args) -> int``).
Imported lazily by the CLI: nothing here is loaded by ``deidentify preview``.
"""
