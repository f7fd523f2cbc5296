"""``deidentify demo`` (what ``make demo`` runs): the whole path on one machine, live.

::

    local Kafka (scripts/kafka.sh, started only if none answers)
      │
      ├─ generator eu ─► demo-<run>.eu.telemetry.raw.*  ─► deidentify run --region eu (:8081)─┐
      ├─ generator us ─► demo-<run>.us.telemetry.raw.*  ─► deidentify run --region us (:8082)─┤
      │                                                                                        ▼
      └────────────────────────── demo-<run>.central.aggregates.{eu,us} ◄──────────────────────┘
                                                   │
                                 deidentify central (:8090, dashboard) ─► live terminal view

What it does, in order

1. Takes a lease on the local broker (``scripts/kafka.sh acquire``): starts it when nothing
   answers on the bootstrap address, and at the end (``release``) stops it only if this run
   started it and nobody else still uses it. A broker someone else runs is left alone.
2. Creates this run's topics. Every run has its own names (``demo-<run>.``) and consumer
   groups, so runs never see each other's data; the topics are deleted again at the end.
3. Writes a web config for this run (``web-config.yml`` in the run's temporary folder, mode
   0600): one basic-auth user ``demo`` with a random password, printed once with the
   dashboard URL. Starts the central collector and one sidecar per region as child
   processes with it (their own process groups, so Ctrl-C reaches only the demo, which then
   stops them in order), on 127.0.0.1, with logs in the same folder, and waits until each
   answers ``/readyz``.
4. Generates synthetic raw telemetry full of fake PII in this process, one producer per
   region. To show aggregates within a minute, each generator first *backfills* the last
   two minutes of event time as fast as it can (the sidecars close those windows at once),
   then goes on at ``--rate`` events/s with event time following the wall clock, so a new
   window closes every minute.
   Schemas of ``--schemas`` whose event type has no dedicated generator get events from
   :mod:`deidentify.generate_schema`, on their own ``source.topic`` (region-prefixed).
5. Shows a live view of what the central collector holds (every 2 s on a terminal, every
   15 s otherwise) and the dashboard URL.
6. On Ctrl-C, SIGTERM or after ``--duration``: stops the generators, sends SIGTERM to every
   child, waits (SIGKILL after 20 s), deletes the topics, releases the broker, exits 0.

Only aggregates that passed central re-validation and counts are ever printed; no raw event
value reaches the terminal.

Modules
    ``settings``  constants, ``DemoRun`` (the run's names and credentials), the arguments
    ``broker``    the lease on the local broker, this run's topics
    ``children``  the collector and sidecars as child processes: start, ready, stop
    ``run``       the sequence above; the generators are :mod:`deidentify.generate`'s
                  producer (``produce_records``), the same loop ``deidentify generate`` runs
    ``view``      the live terminal view
"""

from __future__ import annotations

from deidentify.demo.broker import broker_answers
from deidentify.demo.run import main
from deidentify.demo.settings import DemoRun
from deidentify.demo.view import render_view

__all__ = ["DemoRun", "broker_answers", "main", "render_view"]
