"""Side-by-side benchmarks: deidentify vs faust-streaming, quixstreams and the consume ceiling.

``python -m benchmarks`` (or ``make bench``) generates one data set of raw telemetry, produces
it once to a set of benchmark raw topics on the local broker, and runs every contender over
the same events, in the same run, on the same broker:

==================  ==========================================================================
``deidentify``      ``deidentify run`` end to end (raw topics -> central topic), exactly-once
``deidentify-alo``  the same with at-least-once delivery (only when the sidecar has the switch)
``faust``           a faust-streaming agent iterating the stream into a windowed table
``quixstreams``     ``StreamingDataFrame``: ``group_by`` cell, ``tumbling_window(60 s)``
``ceiling``         an aiokafka consumer that only fetches the batches (``getmany``)
``preview``         ``deidentify preview`` over the same events from a JSON-lines file
``parse-only``      the same file, each line merely parsed with ``orjson.loads``
==================  ==========================================================================

Every contender runs in its own process; the throughput figures are events per CPU second of
that process (user + system, all threads) and events per wall second, measured from its first
event to its last so that start-up (imports, group join) is not counted; peak RSS is the
process's ``VmHWM`` (its resident-set high-water mark). The harness builds everything outside the timed part and prints the
ratios; nothing here asserts on a timing.

Modules: :mod:`benchmarks.dataset` (generate, cache, produce), :mod:`benchmarks.measure`
(processes, rusage, sampling), :mod:`benchmarks.contenders` (how each contender is run),
:mod:`benchmarks.report` (statistics, ratios, JSON and markdown), :mod:`benchmarks.plot`;
the child processes are :mod:`benchmarks.offline`, :mod:`benchmarks.ceiling`,
:mod:`benchmarks.faust_agent` and :mod:`benchmarks.quix_app`.

Never print an event value: children report counts and timings only.
"""
