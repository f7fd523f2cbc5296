"""Bottom-k sketches of keyed subject hashes: "at least k distinct subjects", exact under merge.

Groundwork for scale-out (issue 12, ``docs/scale-out.md``): stage one would pre-aggregate a
raw partition's cells and ship each cell's sketch to a regional internal topic; stage two
would merge the sketches of one cell from every partition and apply ``k``. The sketch is not
used by the sidecar (``--stages split`` merges exact sets of fewer than ``k`` hashes instead,
see ``deidentify/partials.py``); its :class:`SubjectKey` is the split mode's region key.

A :class:`SubjectSketch` with parameter ``k`` holds the ``k`` smallest distinct 64-bit hashes
of the subjects it has seen (all of them while fewer than ``k`` were seen).

Invariants (each one has a property test in ``tests/privacy/test_sketch.py``):

* **Size** never exceeds ``k``.
* **Merge** of two sketches is the ``k`` smallest of the union of their hashes. It is
  commutative and associative, and equals the sketch of the union of the inputs however the
  subjects were split over partitions, processes and batches, and in whatever order they
  arrived: a sketch is a function of the *set* of hashes it saw.
* **Decision**: ``sketch.reached()`` (it holds ``k`` hashes) is true exactly when at least
  ``k`` distinct hashes went into it or into anything merged into it. Proof: if the union
  has ``n >= k`` distinct hashes, its ``k`` smallest exist and are kept by every merge order
  (each of them is among the ``k`` smallest of any part containing it); if ``n < k`` every
  hash is kept and there are fewer than ``k``. So the decision over a region is exact, not an
  estimate. Distinct hashes stand for distinct subjects: two subjects sharing a 64-bit hash
  (about 3e-8 for a million subjects in one cell) count once, which can only suppress a cell,
  never publish one under ``k`` (fail closed).

Keyed hashes, never subjects: :class:`SubjectKey` is a region secret; hashes are 8-byte
BLAKE2b MACs of the subject under it, so without the key a hash cannot be linked to an email
or user id, not even by hashing a dictionary of candidates. The sketch, its wire form
(:meth:`SubjectSketch.to_bytes`) and its ``repr`` contain hashes and counts only.

Sharing the key between the processes of one region (merging needs one key; the key never
leaves the region): it is deployed like the Kafka password, as a secret file (a Kubernetes
Secret mounted read-only into every sidecar pod of the region, mode 600, at least 32 random
bytes), read once at start-up; it is never written to Kafka, logs, metrics or the central
topic. Every wire form carries the key's 4-byte *key id* (a one-way MAC of a constant under
the key, which reveals nothing about the key), so a process started with another key (a
rotation in progress, a misconfigured pod) has its sketches rejected as ``wrong_key`` instead
of merged into nonsense. Rotating the key therefore means a short period in which partials of
two keys meet and the cells involved fail closed; rotate at a quiet hour.

Memory: a sketch is one ``array('Q')`` of at most ``k`` hashes plus a slotted object,
whatever the number of subjects: ``benchmarks/sketch_memory.py`` measured about 200 bytes per
cell at ``k = 5`` and 570 at ``k = 50`` (a million subjects over a thousand cells). Per event,
once full, adding costs one comparison with the largest kept hash (most hashes are larger
and are dropped at once), but every event with a subject must be hashed: unlike the window's
set, a sketch cannot stop hashing once it has ``k``.

Wire form (little-endian): ``b"DS"``, version ``1`` (1 byte), key id (4 bytes), ``k``
(2 bytes), count ``n <= k`` (2 bytes), then ``n`` strictly increasing unsigned 64-bit
hashes: ``11 + 8 n`` bytes, at most 51 bytes for ``k = 5``. :func:`decode_sketch` rejects
anything else with a :class:`SketchRejected` reason; it never raises on bad bytes.
"""

from __future__ import annotations

import enum
import struct
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable
from hashlib import blake2b

MAGIC = b"DS"
WIRE_VERSION = 1
MIN_KEY_BYTES = 32
MAX_K = 0xFFFF
_HEADER = struct.Struct("<2sB4sHH")
HEADER_BYTES = _HEADER.size          # 11
_KEY_ID_PERSON = b"deid-key-id"       # BLAKE2b personalisation: key ids, not subject hashes
_SUBJECT_PERSON = b"deid-subject"


class SubjectKey:
    """A region's secret for subject hashes. ``repr``/``str`` never show it."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a subject key needs at least {MIN_KEY_BYTES} random bytes, "
                             f"got {len(key)}")
        self._key = bytes(key[:64])      # BLAKE2b takes keys of up to 64 bytes
        self.key_id = blake2b(b"key-id", key=self._key, digest_size=4,
                              person=_KEY_ID_PERSON).digest()

    def hasher(self) -> Callable[[object], int]:
        """A closure: subject value -> 64-bit keyed hash (non-strings hash by ``repr``)."""
        keyed = blake2b(key=self._key, digest_size=8, person=_SUBJECT_PERSON)
        fresh = keyed.copy        # the keyed start state, copied: no key set-up per call
        from_bytes = int.from_bytes

        def subject_hash(value: object) -> int:
            text = value if type(value) is str else repr(value)
            h = fresh()
            h.update(text.encode("utf-8", "surrogatepass"))
            return from_bytes(h.digest(), "little")
        return subject_hash

    def __repr__(self) -> str:
        return f"SubjectKey(key_id={self.key_id.hex()}, key=***)"

    __str__ = __repr__


class SubjectSketch:
    """The ``k`` smallest distinct subject hashes seen (see the module docstring)."""

    __slots__ = ("_h", "k")

    def __init__(self, k: int, hashes: Iterable[int] = ()) -> None:
        if not 1 <= k <= MAX_K:
            raise ValueError(f"sketch k must be between 1 and {MAX_K}, got {k}")
        self.k = k
        self._h = array("Q")
        for h in hashes:
            self.add(h)

    def add(self, h: int) -> None:
        """Insert one hash, an int in ``[0, 2**64)`` (``OverflowError`` otherwise)."""
        hs = self._h
        n = len(hs)
        if n == self.k and h >= hs[-1]:
            return                                  # the common case once full
        i = bisect_left(hs, h)
        if i < n and hs[i] == h:
            return                                  # seen already
        hs.insert(i, h)
        if n == self.k:
            hs.pop()

    def merge(self, other: SubjectSketch) -> SubjectSketch:
        """A new sketch: the ``k`` smallest of the union. Both must share ``k``."""
        if other.k != self.k:
            raise ValueError(f"cannot merge sketches of k={self.k} and k={other.k}")
        out = SubjectSketch(self.k)
        out._h = array("Q", sorted(set(self._h).union(other._h))[:self.k])
        return out

    def reached(self) -> bool:
        """At least ``k`` distinct subjects went into this sketch or its merged parts."""
        return len(self._h) >= self.k

    @property
    def hashes(self) -> tuple[int, ...]:
        return tuple(self._h)

    def __len__(self) -> int:
        return len(self._h)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SubjectSketch) and other.k == self.k and other._h == self._h

    __hash__ = None  # type: ignore[assignment]   # mutable

    def __repr__(self) -> str:
        return f"SubjectSketch(k={self.k}, size={len(self._h)})"

    def to_bytes(self, key_id: bytes) -> bytes:
        """The wire form (module docstring): header, then the sorted hashes."""
        if len(key_id) != 4:
            raise ValueError("a key id is 4 bytes")
        n = len(self._h)
        return _HEADER.pack(MAGIC, WIRE_VERSION, key_id, self.k, n) + \
            struct.pack(f"<{n}Q", *self._h)


def merge_all(sketches: Iterable[SubjectSketch]) -> SubjectSketch | None:
    """The merge of any number of sketches of one ``k`` (``None`` for none)."""
    merged: SubjectSketch | None = None
    for s in sketches:
        merged = s if merged is None else merged.merge(s)
    return merged


class SketchRejected(enum.Enum):
    """Why a wire form was not accepted (a closed set: usable as a metric label)."""

    TRUNCATED = "truncated"          # shorter than its header says, or than a header
    BAD_MAGIC = "bad_magic"          # not a sketch at all
    BAD_VERSION = "bad_version"      # a wire version this build does not read
    WRONG_KEY = "wrong_key"          # made under another region key
    BAD_K = "bad_k"                  # k = 0, or not the k the reader expects
    TOO_MANY = "too_many"            # more than k hashes
    TRAILING = "trailing"            # bytes after the last hash
    NOT_SORTED = "not_sorted"        # hashes not strictly increasing (not a bottom-k set)


def decode_sketch(data: bytes, *, key_id: bytes,
                  k: int | None = None) -> SubjectSketch | SketchRejected:
    """Parse a wire form made under the key ``key_id``; ``k``, if given, must match."""
    if len(data) < HEADER_BYTES:
        return SketchRejected.TRUNCATED
    magic, version, kid, sk, n = _HEADER.unpack_from(data)
    if magic != MAGIC:
        return SketchRejected.BAD_MAGIC
    if version != WIRE_VERSION:
        return SketchRejected.BAD_VERSION
    if kid != key_id:
        return SketchRejected.WRONG_KEY
    if sk < 1 or (k is not None and sk != k):
        return SketchRejected.BAD_K
    if n > sk:
        return SketchRejected.TOO_MANY
    end = HEADER_BYTES + 8 * n
    if len(data) < end:
        return SketchRejected.TRUNCATED
    if len(data) > end:
        return SketchRejected.TRAILING
    hashes = array("Q", struct.unpack_from(f"<{n}Q", data, HEADER_BYTES))
    if any(a >= b for a, b in zip(hashes, hashes[1:], strict=False)):
        return SketchRejected.NOT_SORTED
    sketch = SubjectSketch(sk)
    sketch._h = hashes
    return sketch


__all__ = ["HEADER_BYTES", "SketchRejected", "SubjectKey", "SubjectSketch", "decode_sketch",
           "merge_all"]
