"""Nothing personal leaves: canary-based property tests over generated hostile events.

Every string value and URL part of the generated events carries a recorded secret (see
``tests/strategies.py``). The events run through the very pipeline the sidecar and
``deidentify preview`` run, with the shipped schemas; the test then searches everything that
could leave — published aggregates (values and Kafka keys), the drop report, log records at
DEBUG — for every secret in every leak form (raw, case-folded, URL-encoded, base64, hex,
MD5/SHA-1/SHA-256 digests).
"""

from __future__ import annotations

import io
import logging

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deidentify.pipeline import Pipeline
from deidentify.preview import write_report
from deidentify.schema import default_schema_dir, load_schemas
from tests.strategies import (
    assert_no_leaks,
    canary,
    canary_registry,
    hostile_cell,
    hostile_event,
    raw_line,
)

SCHEMAS = load_schemas(default_schema_dir())
KINDS = ("http_request", "billing_charge", "webhook_delivery")
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]


def run_everything(lines: list[bytes]) -> tuple[list[bytes], int]:
    """Run lines through a fresh pipeline; return every output chunk and the cell count."""
    pipeline = Pipeline(SCHEMAS, region="eu")
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        aggregates = []
        for start in range(0, len(lines), 7):     # several batches, windows closing between
            pipeline.process_batch(list(enumerate(lines[start:start + 7], start)))
            aggregates += pipeline.close_due()
        aggregates += pipeline.close_all()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    report = io.StringIO()
    write_report(pipeline, len(aggregates), report)
    outputs = [a.to_json() for a in aggregates] + [a.key for a in aggregates]
    outputs += [report.getvalue(), log.getvalue()]
    outputs += [repr(pipeline.drops), repr(pipeline.guard_hits), repr(pipeline.rolled_up)]
    return outputs, len(aggregates)


batches = st.lists(
    st.one_of(
        hostile_event().map(lambda e: [e]),
        *(hostile_cell(kind) for kind in KINDS),
    ),
    min_size=1, max_size=6,
)


@settings(suppress_health_check=SLOW)
@given(batches=batches, secrets=canary_registry())
def test_no_secret_leaves_in_any_form(batches, secrets):
    lines = [orjson.dumps(event) for batch in batches for event in batch]
    outputs, _ = run_everything(lines)
    assert secrets, "the strategies recorded no secret: the test would prove nothing"
    assert_no_leaks(outputs, secrets)


@settings(suppress_health_check=SLOW)
@given(lines=st.lists(raw_line(), min_size=1, max_size=8), secrets=canary_registry())
def test_no_secret_leaves_from_raw_garbage(lines, secrets):
    outputs, _ = run_everything(lines)
    assert_no_leaks(outputs, secrets)


@settings(suppress_health_check=SLOW)
@given(data=st.data())
def test_publishable_hostile_cells_are_published_without_leaks(data):
    """The publish path is exercised: a cell of >= k distinct subjects with hostile noise
    everywhere else is published (so the no-leak property is not vacuous)."""
    kind = data.draw(st.sampled_from(KINDS))
    secrets: list[str] = []
    events = data.draw(hostile_cell(kind, secrets, min_size=5, max_size=12))
    outputs, cells = run_everything([orjson.dumps(e) for e in events])
    assert cells >= 1
    published = [orjson.loads(o) for o in outputs[:cells]]
    assert sum(p["measures"]["count"] for p in published) == len(events)
    assert_no_leaks(outputs, secrets)


def test_leak_check_catches_a_planted_leak():
    """The detector itself can fail: a secret copied into the output is found in its forms."""
    import base64
    import hashlib
    secret = "CNRYPLANTED7Q2KX"
    for form in (secret, secret.lower(), base64.b64encode(secret.encode()).decode(),
                 hashlib.sha256(secret.encode()).hexdigest()):
        try:
            assert_no_leaks([b'{"dims": {"route": "/v1/' + form.encode() + b'"}}'], [secret])
        except AssertionError:
            continue
        raise AssertionError("a planted leak was not detected")


@st.composite
def shared_secret_cell(draw, kind: str):
    """A publishable cell (>= k distinct subjects) whose dimension *source* fields all carry
    the SAME secret, so k cannot help: only the typed transforms (route templating, host
    reduction, enum/id checks) stand between the secret and the output."""
    secrets = draw(canary_registry())
    events = draw(hostile_cell(kind, secrets, min_size=5, max_size=8))
    c = draw(canary("upper"))
    lc = draw(canary("lower"))
    word = draw(canary("word"))
    # Path segments get a digit-bearing suffix: a letters-only segment reads like a word
    # ("/users/alice") and no pattern can tell it from a resource name — only k stops those,
    # which this test deliberately takes out of play.
    tok = f"{c}7k2q"
    hx = draw(canary("hex")) + "0a9f3c"
    form = draw(st.integers(0, 5))
    for event in events:
        if kind == "http_request":
            event.pop("route", None)
            if form == 0:    # an email in a path segment, shared by every user
                event["url"] = f"https://api.example.com/v1/users/{lc}@example.com/orders"
            elif form == 1:  # percent-encoded email
                event["url"] = f"https://api.example.com/v1/users/{lc}%40example.com"
            elif form == 2:  # a high-entropy token segment
                event["url"] = f"https://api.example.com/v1/files/{tok}/download?sig={lc}"
            elif form == 3:  # a raw path where the route template belongs
                event["route"] = f"/v1/users/{tok}/profile"
                event["url"] = f"https://{word}:{lc}@api.example.com/v1/users/{tok}/profile"
            elif form == 4:  # userinfo, port, query and fragment
                event["url"] = f"https://{word}:{c}@api.example.com:8443/v1/me?email={lc}#{c}"
            else:            # a hex run with digits
                event["url"] = f"https://api.example.com/v1/sessions/{hx}"
        elif kind == "webhook_delivery":
            sub = (word, c, lc)[form % 3]
            event["endpoint_url"] = f"https://{sub}.github.io/hooks/{lc}?token={c}"
        else:   # billing: a secret where the currency belongs -> __other__, never copied
            event["currency"] = (c, lc, word)[form % 3]
    return events


@settings(suppress_health_check=SLOW)
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_shared_secret_in_dimension_source_never_leaves(kind, data):
    events = data.draw(shared_secret_cell(kind))
    secrets = data.draw(canary_registry())
    outputs, cells = run_everything([orjson.dumps(e) for e in events])
    assert cells >= 1, "the cell reached k, so something must be published"
    assert_no_leaks(outputs, secrets)
