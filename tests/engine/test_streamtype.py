"""engine/streamtype.py's PEL: a dict whose sorted index of IDs is built on the first ordered
read and kept from then on, against a SortedDict given the same operations.

Tolerance: equality of contents and of every ordered read after every operation, for seeded
sequences that mix in-order deliveries, older IDs (XCLAIM), removals and ordered reads."""

from __future__ import annotations

import copy
import random

import pytest
from sortedcontainers import SortedDict

from engine.streamtype import NACK, PEL, Consumer


@pytest.mark.parametrize("seed", range(10))
def test_pel_reads_as_a_sorted_dict(seed: int) -> None:
    rng = random.Random(seed)
    owner = Consumer(b"c", 0)
    pel, model = PEL(), SortedDict()
    top = 0
    for step in range(3000):
        op = rng.random()
        if op < 0.45:  # a delivery: the next ID, now and then an older one
            if rng.random() < 0.8:
                top += rng.randint(1, 3)
                sid = (top, 0)
            else:
                sid = (rng.randint(0, top), rng.randint(0, 1))
            nack = NACK(step, 1, owner)
            pel[sid] = nack
            model[sid] = nack
        elif op < 0.75 and model:  # XACK of a pending or unknown ID
            sid = model.peekitem(rng.randrange(len(model)))[0] if rng.random() < 0.8 else (top + 5, 0)
            if rng.random() < 0.5:
                assert pel.pop(sid, None) is model.pop(sid, None)
            elif sid in model:
                del pel[sid]
                del model[sid]
        elif op < 0.8:
            pel.clear()
            model.clear()
        elif op < 0.9 and model:  # an ordered read: the index is built and then kept
            lo, hi = sorted((rng.randint(0, top), rng.randint(0, top)))
            assert list(pel.irange((lo, 0), (hi, 1))) == list(model.irange((lo, 0), (hi, 1)))
            assert pel.peekitem(0) == model.peekitem(0)
            assert pel.peekitem(-1) == model.peekitem(-1)
        assert len(pel) == len(model)
        assert dict(pel) == dict(model)
    assert list(pel) == list(model)
    assert list(pel.items()) == list(model.items())
    assert list(pel.values()) == list(model.values())
    twin = copy.copy(pel)
    assert type(twin) is PEL and list(twin.items()) == list(model.items())
