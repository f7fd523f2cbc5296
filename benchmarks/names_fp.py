"""Person-name detector: false-positive rates and cost per cell (``python -m benchmarks.names_fp``).

Prints counts and rates only. Hits on the public corpus are printed (they are API route
words, not personal data); hits on generated traffic are counted, never printed, except for
the generator's literal route-template segments, which are fixed words of this repository.

Corpora
    generator  every literal segment of the shipped generator's route templates; every
               distinct route the ``route`` transform publishes from N generated events
               (split into routes that carry a generated user slug such as ``alice.smith``,
               which must hit, and the others, which must not); hosts (registrable domains
               of the webhook endpoints), tenant ids and enum values.
    aws        the REST request URIs of the AWS API models shipped by ``botocore`` (public),
               when ``--botocore-data`` or an importable botocore provides them.
    english    the 10,000 most frequent words of pyspellchecker's English list (letters
               only, 2+ letters): how many the word-versus-name rule lets in as name tokens.

Cost: ``timeit`` of :meth:`OutputGuard.scan` on the dims of a typical ``http_requests`` cell,
and of the central collector's scan of a whole aggregate, with the name detector and with it
replaced by a no-op (the guard as it was before). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import sys
import time
import timeit
import tracemalloc

from deidentify.dimensions.host import HostExtractor
from deidentify.dimensions.route import RouteTemplate
from deidentify.generate import TENANTS, TelemetryGenerator
from deidentify.generate.traffic import ROUTES
from deidentify.generate.words import WEBHOOK_EVENTS
from deidentify.privacy import names
from deidentify.privacy.guard import OutputGuard


def _rate(hits: int, total: int) -> str:
    return f"{hits} of {total} ({100 * hits / max(total, 1):.2f} %)"


def generator_corpus(events: int, find) -> None:
    segments = sorted({s for r in ROUTES for s in r.template.split("/") if s and "{" not in s})
    seg_hits = [s for s in segments if find(s)]
    print(f"generator template literal segments: {_rate(len(seg_hits), len(segments))}"
          f" {seg_hits}")
    templater, hosts = RouteTemplate(), HostExtractor()
    plain, slugged, published_hosts = set(), set(), set()
    enums = {t.tenant_id for t in TENANTS} | set(WEBHOOK_EVENTS)
    for event in TelemetryGenerator(seed=7, start_ms=1_763_632_800_000).events(events):
        kind = event["type"]
        if kind == "http_request":
            route = templater(event.get("route"), event["url"])
            # Without a route field, /v1/accounts/acct_x/members/alice.smith keeps the slug.
            carries_slug = "/members/" in event["url"] and not route.endswith("}")
            (slugged if carries_slug else plain).add(route)
            enums.add(event["method"])
        elif kind == "billing_charge":
            enums.add(event["currency"])
        else:
            published_hosts.add(hosts(event["endpoint_url"]))
    print(f"generator published routes without a person slug: "
          f"{_rate(sum(map(find, plain)), len(plain))}")
    print(f"generator published routes with a person slug (must hit): "
          f"{_rate(sum(map(find, slugged)), len(slugged))}")
    others = published_hosts | enums
    print(f"generator hosts, tenants and enum values: {_rate(sum(map(find, others)), len(others))}")


def aws_corpus(data_dir: str, find) -> None:
    routes: set[str] = set()
    for service in sorted(os.listdir(data_dir)):
        versions = sorted(glob.glob(os.path.join(data_dir, service, "*", "service-2.json*")))
        if not versions:
            continue
        path = versions[-1]
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as fh:
            model = json.load(fh)
        for operation in model.get("operations", {}).values():
            uri = operation.get("http", {}).get("requestUri")
            if uri:
                routes.add(uri.split("?")[0])
    segments = sorted({s for r in routes for s in r.split("/") if s and "{" not in s})
    seg_hits = [s for s in segments if find(s)]
    route_hits = [r for r in routes if find(r)]
    print(f"aws literal segments: {_rate(len(seg_hits), len(segments))} {seg_hits}")
    print(f"aws routes: {_rate(len(route_hits), len(routes))}")
    tokens = sorted({t.lower() for s in segments for t in names._TOKEN_RE.findall(s)
                     if len(t) >= names.MIN_TOKEN_LEN})
    name_tokens = [t for t in tokens if names.is_person_name_token(t)]
    print(f"aws word tokens that are person-name tokens: "
          f"{_rate(len(name_tokens), len(tokens))} {name_tokens}")


def english_words(top: int = 10_000) -> None:
    counts, _ = names._english_counts()
    words = [w for w, _ in sorted(counts.items(), key=lambda item: -item[1])
             if w.isascii() and w.isalpha() and len(w) >= names.MIN_TOKEN_LEN][:top]
    tokens = [w for w in words if names.is_person_name_token(w)]
    print(f"the {len(words)} most frequent English words that are person-name tokens: "
          f"{_rate(len(tokens), len(words))}; the 40 most frequent: {tokens[:40]}")


def cost() -> None:
    dims = {"method": "GET", "route": "/v1/customers/{id}/invoices", "status": 200}
    aggregate = {
        "schema": "http_requests", "schema_version": 1, "region": "eu",
        "window": {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:01:00Z"},
        "dims": dims,
        "measures": {"count": 812, "errors": 3, "latency_ms": {"sum": 10234.5, "buckets": {
            k: 1 for k in ("5", "10", "25", "50", "100", "250", "500", "1000", "2500",
                           "5000", "10000", "+Inf")}}},
    }
    after = OutputGuard(allow=("__other__", "{ip}", "none"))
    before = OutputGuard(allow=("__other__", "{ip}", "none"))
    before._names = lambda value: False  # the guard without the name detector

    def strings(obj):
        if isinstance(obj, str):
            yield obj
        elif isinstance(obj, dict):
            for key, value in obj.items():
                yield key
                yield from strings(value)

    every_string = list(strings(aggregate))
    for label, guard in (("before", before), ("after", after)):
        n = 20000
        cell = min(timeit.repeat(lambda g=guard: g.scan(dims), number=n, repeat=5)) / n
        whole = min(timeit.repeat(
            lambda g=guard: [g.check(s) for s in every_string], number=n // 10, repeat=5))
        whole /= n // 10
        print(f"cost {label}: scan of http_requests dims {cell * 1e6:.2f} us per cell; "
              f"check of every string of the aggregate ({len(every_string)}) "
              f"{whole * 1e6:.2f} us")
    detector = names.NameDetector()
    for value in ("/v1/customers/{id}/invoices", "GET", "acme-corp", "stripe.com",
                  "/v1/accounts/{id}/members/alice.smith", "latency_ms"):
        t = min(timeit.repeat(lambda v=value: detector.find(v), number=20000, repeat=5)) / 20000
        print(f"  NameDetector.find {value!r}: {t * 1e6:.2f} us")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--botocore-data", default=None,
                        help="botocore's data directory (default: that of an importable botocore)")
    args = parser.parse_args(argv)
    names.load_name_data.cache_clear()
    tracemalloc.start()
    started = time.process_time()
    data = names.load_name_data()
    loaded = time.process_time() - started
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"load: {loaded:.2f} s CPU (under tracemalloc; {data.load_seconds:.2f} s as measured "
          f"by the loader), kept {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB; "
          f"{len(data.first)} first names, {len(data.last)} surnames, "
          f"{len(data.concat_first)} concatenation first names, "
          f"{len(data.split_words)} English words kept whole")
    names.load_name_data.cache_clear()
    started = time.process_time()
    names.load_name_data()
    print(f"load without tracemalloc: {time.process_time() - started:.2f} s CPU")
    find = names.NameDetector().find
    generator_corpus(args.events, find)
    data_dir = args.botocore_data
    if data_dir is None:
        try:
            import botocore  # optional: only for the public corpus
        except ImportError:
            print("aws: skipped (no botocore; pass --botocore-data)")
        else:
            data_dir = os.path.join(os.path.dirname(botocore.__file__), "data")
    if data_dir:
        aws_corpus(data_dir, find)
    english_words()
    cost()
    return 0


if __name__ == "__main__":
    sys.exit(main())
