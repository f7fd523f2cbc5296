"""Bottom-k subject sketches: the merged decision is exact, merges are order-free, the wire
form round-trips and holds keyed hashes only."""

from __future__ import annotations

import os
import struct
from hashlib import blake2b

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deidentify.pipeline import Pipeline
from deidentify.privacy.sketch import (
    HEADER_BYTES,
    SketchRejected,
    SubjectKey,
    SubjectSketch,
    decode_sketch,
    merge_all,
)
from tests.helpers import T0, call, schema_set
from tests.strategies import canary

KEY = SubjectKey(b"k" * 32)
HASH = KEY.hasher()
U64 = st.integers(0, 2 ** 64 - 1)
# a small pool so that subjects repeat within and across partitions
SUBJECTS = st.lists(st.integers(0, 40).map(lambda i: f"user-{i}@example.test"), max_size=120)


@st.composite
def split_stream(draw, max_parts: int = 6):
    """(k, subjects, parts): the subjects of one cell dealt arbitrarily to N sketches."""
    k = draw(st.integers(1, 12))
    subjects = draw(SUBJECTS)
    n = draw(st.integers(1, max_parts))
    owners = draw(st.lists(st.integers(0, n - 1), min_size=len(subjects),
                           max_size=len(subjects)))
    parts = [[s for s, o in zip(subjects, owners, strict=True) if o == i] for i in range(n)]
    return k, subjects, parts


def sketch_of(k: int, subjects) -> SubjectSketch:
    s = SubjectSketch(k)
    for subject in subjects:
        s.add(HASH(subject))
    return s


@given(split_stream())
def test_merged_decision_is_exactly_k_distinct_subjects(case):
    k, subjects, parts = case
    sketches = [sketch_of(k, part) for part in parts]
    merged = merge_all(sketches)
    assert merged.reached() == (len(set(subjects)) >= k)
    assert all(len(s) <= k for s in sketches) and len(merged) <= k
    assert len(merged) == min(k, len(set(subjects)))
    # the merge is the sketch of the whole stream, whatever the split
    assert merged == sketch_of(k, subjects)


@given(k=st.integers(1, 10), a=st.lists(U64, max_size=30), b=st.lists(U64, max_size=30),
       c=st.lists(U64, max_size=30))
def test_merge_is_commutative_and_associative(k, a, b, c):
    sa, sb, sc = (SubjectSketch(k, x) for x in (a, b, c))
    assert sa.merge(sb) == sb.merge(sa)
    assert sa.merge(sb).merge(sc) == sa.merge(sb.merge(sc))
    assert sa.merge(sb).hashes == tuple(sorted(set(a) | set(b))[:k])
    assert len(sa.merge(sb).merge(sc)) <= k


@given(k=st.integers(1, 10), hashes=st.lists(st.integers(0, 50), max_size=60),
       data=st.data())
def test_insertion_order_does_not_matter(k, hashes, data):
    shuffled = data.draw(st.permutations(hashes))
    assert SubjectSketch(k, hashes) == SubjectSketch(k, shuffled)
    assert SubjectSketch(k, hashes).hashes == tuple(sorted(set(hashes))[:k])


def test_merging_sketches_of_different_k_is_refused():
    with pytest.raises(ValueError, match="cannot merge sketches of k=5 and k=6"):
        SubjectSketch(5).merge(SubjectSketch(6))
    assert merge_all([]) is None


@given(k=st.integers(1, 6), data=st.data(),
       events=st.lists(st.tuples(st.sampled_from(("GET", "POST", "PUT", "DELETE")),
                                 st.none() | st.integers(0, 12)), max_size=80))
def test_merged_partition_sketches_publish_what_one_process_publishes(k, events, data):
    """The single-process pipeline (its window keeps a set until k, then only k) against
    bottom-k sketches built per partition and merged: the same cells reach k, the same
    cells roll up, the roll-up is published in the same cases."""
    p = Pipeline(schema_set(k=k), region="eu")
    for i, (method, user) in enumerate(events):
        p.process(call(T0, method=method, user=None if user is None else f"u{user}"),
                  offset=i)
    published = {a.value["dims"]["method"]: a.value["measures"]["count"]
                 for a in p.close_all()}

    n = data.draw(st.integers(1, 4))
    owners = data.draw(st.lists(st.integers(0, n - 1), min_size=len(events),
                                max_size=len(events)))
    partials: dict[tuple[int, str], SubjectSketch] = {}
    counts: dict[str, int] = {}
    for (method, user), owner in zip(events, owners, strict=True):
        counts[method] = counts.get(method, 0) + 1
        sketch = partials.setdefault((owner, method), SubjectSketch(k))
        if user is not None:
            sketch.add(HASH(f"u{user}"))
    expected: dict[str, int] = {}
    rollup, rolled = SubjectSketch(k), 0
    for method, count in counts.items():
        merged = merge_all(s for (_, m), s in partials.items() if m == method)
        if merged.reached():
            expected[method] = count
        else:
            rollup, rolled = rollup.merge(merged), rolled + count
    if rolled and rollup.reached():
        expected["__other__"] = rolled
    assert published == expected


# --------------------------------------------------------------------------- wire form


@given(k=st.integers(1, 40), hashes=st.lists(U64, max_size=60))
def test_wire_form_round_trips(k, hashes):
    s = SubjectSketch(k, hashes)
    data = s.to_bytes(KEY.key_id)
    assert len(data) == HEADER_BYTES + 8 * len(s)
    assert decode_sketch(data, key_id=KEY.key_id) == s
    assert decode_sketch(data, key_id=KEY.key_id, k=k) == s


@given(subjects=st.lists(canary(), min_size=1, max_size=12), k=st.integers(1, 8))
def test_wire_form_and_repr_never_hold_a_subject(subjects, k):
    s = sketch_of(k, subjects)
    data = s.to_bytes(KEY.key_id)
    text = repr(s)
    for subject in subjects:
        raw = subject.encode()
        assert raw not in data and subject not in text
    # nothing but the header and 8-byte hashes, each the keyed hash of some subject
    hashes = struct.unpack_from(f"<{len(s)}Q", data, HEADER_BYTES)
    assert set(hashes) <= {HASH(x) for x in subjects}


def _wire(k=5, n=2, hashes=(1, 2), key_id=KEY.key_id, magic=b"DS", version=1) -> bytes:
    return struct.pack("<2sB4sHH", magic, version, key_id, k, n) + \
        struct.pack(f"<{len(hashes)}Q", *hashes)


@pytest.mark.parametrize("data, k, reason", [
    (b"", None, SketchRejected.TRUNCATED),
    (_wire()[:HEADER_BYTES - 1], None, SketchRejected.TRUNCATED),
    (_wire(magic=b"XX"), None, SketchRejected.BAD_MAGIC),
    (_wire(version=2), None, SketchRejected.BAD_VERSION),
    (_wire(key_id=b"\0\0\0\0"), None, SketchRejected.WRONG_KEY),
    (_wire(k=0, n=0, hashes=()), None, SketchRejected.BAD_K),
    (_wire(k=5), 6, SketchRejected.BAD_K),
    (_wire(k=2, n=3, hashes=(1, 2, 3)), None, SketchRejected.TOO_MANY),
    (_wire(n=3, hashes=(1, 2)), None, SketchRejected.TRUNCATED),
    (_wire(n=1, hashes=(1, 2)), None, SketchRejected.TRAILING),
    (_wire(hashes=(2, 1)), None, SketchRejected.NOT_SORTED),
    (_wire(hashes=(2, 2)), None, SketchRejected.NOT_SORTED),
])
def test_malformed_wire_forms_are_rejected_by_reason(data, k, reason):
    assert decode_sketch(data, key_id=KEY.key_id, k=k) is reason


@given(st.binary(max_size=80))
def test_any_bytes_decode_to_a_sketch_or_a_reason(data):
    out = decode_sketch(data, key_id=KEY.key_id)
    assert isinstance(out, SubjectSketch | SketchRejected)
    if isinstance(out, SubjectSketch):
        assert out.to_bytes(KEY.key_id) == data and len(out) <= out.k


# --------------------------------------------------------------------------- the region key


def test_processes_sharing_the_region_key_hash_alike_and_others_do_not():
    secret = os.urandom(32)
    one, two, other = SubjectKey(secret), SubjectKey(bytes(secret)), SubjectKey(os.urandom(32))
    assert one.hasher()("alice@example.test") == two.hasher()("alice@example.test")
    assert one.key_id == two.key_id
    assert other.hasher()("alice@example.test") != one.hasher()("alice@example.test")
    assert other.key_id != one.key_id
    data = sketch_of(3, ["a", "b"]).to_bytes(other.key_id)
    assert decode_sketch(data, key_id=one.key_id) is SketchRejected.WRONG_KEY


@given(st.text(max_size=40) | st.integers())
def test_the_subject_hash_is_the_keyed_blake2b_of_the_subject(value):
    """The hasher's copied start state gives what a fresh keyed BLAKE2b gives."""
    text = value if isinstance(value, str) else repr(value)
    digest = blake2b(text.encode("utf-8", "surrogatepass"), key=b"k" * 32, digest_size=8,
                     person=b"deid-subject").digest()
    assert HASH(value) == int.from_bytes(digest, "little")
    assert HASH(value) == HASH(value)


def test_the_key_never_shows_and_must_be_long_enough():
    secret = b"s3cret-region-key-material-0123456789"
    key = SubjectKey(secret)
    assert "s3cret" not in repr(key) and "s3cret" not in str(key)
    assert secret.hex() not in repr(key)
    with pytest.raises(ValueError, match="at least 32 random bytes, got 8"):
        SubjectKey(b"short-k!")
