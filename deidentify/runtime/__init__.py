"""The shared runtime: what both services (``deidentify run``, ``deidentify central``) need.

* :mod:`deidentify.runtime.settings` - :class:`Setting` (flag, variable, default, parser,
  help) declared once, the one flag > env > default resolver, duration parsing, the
  settings both services share (bootstrap, schemas, k floor, log level, web listener);
* :mod:`deidentify.runtime.security` - Kafka TLS/mTLS/SASL settings, secrets from files;
* :mod:`deidentify.runtime.logs` - one logging setup, value-free tracebacks;
* :mod:`deidentify.runtime.web` - the HTTP server core under the web configuration
  (auth, TLS, probe port), to which each service adds its routes;
* :mod:`deidentify.runtime.kafka_errors` - the one translation of aiokafka errors.

Neither service imports the other: ``sidecar/`` and ``central/`` both build on this
package. ``settings`` and ``security`` import no Kafka client (the CLI reads them for
``--help``); ``kafka_errors`` imports aiokafka and ``web`` aiohttp.
"""
