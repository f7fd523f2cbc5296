"""The shipped route-word vocabulary holds no person names (issue 9: a literal segment is
published only when it is known, and what is known must not be a name)."""

from __future__ import annotations

from deidentify.dimensions.routewords import FILE_EXTENSIONS, ROUTE_WORDS
from deidentify.privacy.names import NameDetector, is_person_name_token

# Technical words that the name data also lists as rare surnames or given names (reviewed
# one by one: each is a route word first - ``/app``, ``/cron``, ``/hooks``, ``/styles``).
# A new entry here is a privacy review decision, not a test fix.
REVIEWED_NAME_LOOKALIKES = frozenset(
    {"app", "cron", "footer", "hooks", "ip", "ro", "styles", "uk"})


def test_no_route_word_is_a_person_name() -> None:
    names = {w for w in ROUTE_WORDS if is_person_name_token(w)}
    assert names - REVIEWED_NAME_LOOKALIKES == set()


def test_reviewed_lookalikes_are_still_route_words() -> None:
    # a stale exception would silently allow a name that is later added to the vocabulary
    assert REVIEWED_NAME_LOOKALIKES <= ROUTE_WORDS
    assert all(is_person_name_token(w) for w in REVIEWED_NAME_LOOKALIKES)


def test_no_route_word_or_file_name_reads_as_a_compound_name() -> None:
    detector = NameDetector()
    assert [w for w in ROUTE_WORDS if detector.find(w)] == []
    assert [f"{w}.{x}" for w in sorted(ROUTE_WORDS)[:200] for x in sorted(FILE_EXTENSIONS)
            if detector.find(f"{w}.{x}")] == []


def test_the_cross_check_can_fail() -> None:
    # the detector behind these checks does know the names of the examples
    assert is_person_name_token("smith") and is_person_name_token("alice")
    assert NameDetector().find("alice.smith")
