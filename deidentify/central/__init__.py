"""The central collector: re-validate, merge and serve the aggregates of every region.

* :mod:`deidentify.central.validate` - pure re-validation against the schemas (layer 6);
* :mod:`deidentify.central.state` - pure merged state, idempotent and bounded, and the
  dashboard's JSON document (a view per schema, chosen from its measure kinds);
* :mod:`deidentify.central.export` - the Prometheus series of every schema, derived from the
  schema by one naming rule (no schema is known by name);
* :mod:`deidentify.central.web` - dashboard, JSON API, ``/metrics``, ``/livez``, ``/readyz``;
* :mod:`deidentify.central.settings` - every option of ``deidentify central``, declared once;
* :mod:`deidentify.central.collector` - the per-message ``CentralCollector`` (no Kafka);
* :mod:`deidentify.central.app` - the faust app and ``main`` behind ``deidentify central``.

Shared with the sidecar through :mod:`deidentify.runtime` (settings resolver, Kafka
security, logging, HTTP server core); nothing here imports the sidecar package.

Nothing is imported here: import the module you need (faust only loads with ``app``).
"""
