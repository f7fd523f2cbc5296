"""The central collector: re-validate, merge and serve the aggregates of every region.

* :mod:`deidentify.central.validate` - pure re-validation against the schemas (layer 6);
* :mod:`deidentify.central.state` - pure merged state, idempotent and bounded, and the
  dashboard's JSON document;
* :mod:`deidentify.central.web` - dashboard, JSON API, ``/metrics``, ``/livez``, ``/readyz``;
* :mod:`deidentify.central.app` - settings, the per-message ``CentralCollector`` and the faust
  app behind ``deidentify central``.

Nothing is imported here: import the module you need (faust only loads with ``app``).
"""
