"""KeyIndex: the O(1) sampling index and SCAN cursor each database keeps beside its dict.

The properties come from Redis's guarantees (dictScan never misses a key present for the whole
iteration; dictGetSomeKeys returns keys that exist) and from the index's own contract (holes
keep slots stable; compaction changes the epoch, which restarts a cursor)."""

from __future__ import annotations

import random

from engine.keyindex import AccessWords, KeyIndex


def _full_scan(idx: KeyIndex, count: int, between=None) -> list[bytes]:
    seen: list[bytes] = []
    cursor = 0
    for step in range(100_000):  # bounded: a scan that never ends is a failure
        cursor, keys = idx.scan(cursor, count)
        seen += keys
        if between is not None:
            between(step)
        if cursor == 0:
            return seen
    raise AssertionError("SCAN did not terminate")


def test_add_discard_len_and_membership() -> None:
    idx = KeyIndex()
    for i in range(10):
        idx.add(b"k%d" % i)
    idx.discard(b"k3")
    idx.discard(b"k3")  # discarding twice is harmless
    idx.discard(b"missing")
    assert len(idx) == 9
    assert b"k3" not in idx.pos


def test_random_and_sample_return_live_keys_only() -> None:
    idx = KeyIndex()
    for i in range(200):
        idx.add(b"k%d" % i)
    for i in range(0, 200, 3):
        idx.discard(b"k%d" % i)
    rng = random.Random(7)
    live = set(idx.pos)
    for _ in range(500):
        assert idx.random(rng) in live
    assert set(idx.sample(5, rng)) <= live
    assert len(idx.sample(5, rng)) == 5
    # fewer keys than asked: every key once
    small = KeyIndex()
    small.add(b"a")
    small.add(b"b")
    assert sorted(small.sample(5, rng)) == [b"a", b"b"]
    assert KeyIndex().random(rng) is None and KeyIndex().sample(3, rng) == []


def test_random_is_uniform_over_live_keys() -> None:
    """Chi-square-free check: with 10 keys and 20,000 draws each key's share is 0.1 +/- 0.015
    (more than 5 standard deviations of a binomial share at n=20,000)."""
    idx = KeyIndex()
    for i in range(20):
        idx.add(b"k%d" % i)
    for i in range(0, 20, 2):
        idx.discard(b"k%d" % i)
    rng = random.Random(1)
    counts: dict[bytes, int] = {}
    for _ in range(20_000):
        k = idx.random(rng)
        assert k is not None
        counts[k] = counts.get(k, 0) + 1
    assert len(counts) == 10
    assert all(abs(c / 20_000 - 0.1) < 0.015 for c in counts.values())


def test_scan_visits_every_key_exactly_once_without_changes() -> None:
    idx = KeyIndex()
    keys = [b"k%d" % i for i in range(1000)]
    for k in keys:
        idx.add(k)
    for count in (1, 10, 999, 5000):
        seen = _full_scan(idx, count)
        assert sorted(seen) == sorted(keys)


def test_scan_never_misses_a_key_present_throughout_even_across_compaction() -> None:
    idx = KeyIndex()
    stable = [b"s%d" % i for i in range(300)]
    churn = [b"c%d" % i for i in range(3000)]
    for k in stable + churn:
        idx.add(k)
    epoch0 = idx.epoch
    it = iter(churn)

    def delete_some(step: int) -> None:
        for _ in range(50):
            k = next(it, None)
            if k is not None:
                idx.discard(k)

    seen = set(_full_scan(idx, 20, delete_some))
    assert idx.epoch != epoch0  # compaction happened during the scan
    assert set(stable) <= seen


def test_clear_resets_and_restarts_cursors() -> None:
    idx = KeyIndex()
    for i in range(100):
        idx.add(b"k%d" % i)
    cursor, _ = idx.scan(0, 10)
    assert cursor != 0
    idx.clear()
    assert len(idx) == 0
    idx.add(b"fresh")
    # the old cursor belongs to an older epoch: the scan restarts from slot 0
    cursor, keys = idx.scan(cursor, 10)
    assert keys == [b"fresh"] and cursor == 0


def test_access_words_follow_their_key_through_compaction() -> None:
    """Each key's access word (robj.lru) lives in its slot: it must stay with the key when the
    slots are compacted, leave with the key, and read as absent until stamped.  Tolerance:
    none (exact values)."""
    idx = KeyIndex()
    words = AccessWords(idx)
    rng = random.Random(7)
    expected: dict[bytes, int] = {}
    for i in range(2000):
        k = b"k%d" % i
        if i % 3:
            idx.add(k, i)
            expected[k] = i
        else:
            idx.add(k)  # no word yet (a key loaded from a file)
    assert b"k0" not in words and words.get(b"k0", 42) == 42
    words[b"k0"] = 5
    expected[b"k0"] = 5
    epoch0 = idx.epoch
    for k in rng.sample(sorted(idx.pos), 1500):
        idx.discard(k)
        expected.pop(k, None)
    assert idx.epoch != epoch0  # compaction happened
    assert len(idx.words) == len(idx.slots)
    for k in idx.pos:
        assert words.get(k) == expected.get(k)
    assert len(words) == len(expected)
    words[b"gone"] = 1  # a key the index does not hold: nothing is stored
    assert b"gone" not in words and len(idx.words) == len(idx.slots)
    some = next(iter(expected))
    assert words.pop(some) == expected[some] and some not in words
    words.clear()
    assert len(words) == 0 and len(idx) == len(idx.pos)
