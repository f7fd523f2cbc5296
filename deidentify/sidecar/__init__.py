"""The regional sidecar (``deidentify run``): raw Kafka topics -> central aggregates topic.

Modules: ``settings`` (its flags + env, declared with :mod:`deidentify.runtime.settings`),
``kafka`` (clients, TLS/SASL; errors translated by :mod:`deidentify.runtime.kafka_errors`),
``loop`` (getmany batches, pipeline, transactions, rebalance), ``health`` (/livez, /readyz,
/metrics on the shared :mod:`deidentify.runtime.web` core), ``reload`` (schema hot reload),
``app`` (process lifecycle, signals, session supervision; ``main(args) -> int``).
The CLI reads only ``settings`` (the declarations behind ``--help``; no Kafka client, no web
server); everything else is imported lazily, so ``deidentify preview`` loads none of it.
"""
