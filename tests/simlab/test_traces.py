"""Trace readers and writers: round trips, libCacheSim reading our files, the Zipf generator."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.workload.traces import (
    OP_GET,
    OP_SET,
    OPS,
    ORACLE_GENERAL_DTYPE,
    Trace,
    next_access_index,
    read_csv,
    read_key_per_line,
    read_oracle_general,
    read_twitter_csv,
    write_oracle_general,
    zipf_probabilities,
    zipf_trace,
)


def test_oracle_general_layout_and_round_trip(tmp_path) -> None:
    tr = zipf_trace(1_000, 50, 1.0, seed=1, size_bytes=np.arange(1, 51))
    path = tmp_path / "t.oracleGeneral"
    write_oracle_general(path, tr)
    assert path.stat().st_size == 24 * len(tr)
    back = read_oracle_general(path)
    assert np.array_equal(back.keys, tr.keys)
    assert np.array_equal(back.sizes, tr.sizes)
    assert np.array_equal(back.times_s, np.floor(tr.times_s))
    raw = np.fromfile(path, dtype=ORACLE_GENERAL_DTYPE)
    assert np.array_equal(raw["next_access_vtime"], next_access_index(tr.keys))


def test_oracle_general_skips_zero_size(tmp_path) -> None:
    rec = np.zeros(3, dtype=ORACLE_GENERAL_DTYPE)
    rec["obj_id"] = [1, 2, 3]
    rec["obj_size"] = [10, 0, 5]
    path = tmp_path / "z.oracleGeneral"
    rec.tofile(path)
    assert read_oracle_general(path).keys.tolist() == [1, 3]


def test_libcachesim_reads_our_oracle_general(tmp_path) -> None:
    lcs = pytest.importorskip("libcachesim")
    tr = zipf_trace(500, 40, 0.9, seed=2, size_bytes=np.arange(100, 140))
    path = tmp_path / "l.oracleGeneral"
    write_oracle_general(path, tr)
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    got = [(req.obj_id, req.obj_size) for req in reader]
    assert got == list(zip(tr.keys.tolist(), tr.sizes.tolist(), strict=True))


def test_write_rejects_zero_sizes(tmp_path) -> None:
    tr = zipf_trace(10, 5, 1.0, size_bytes=0)
    with pytest.raises(ValueError):
        write_oracle_general(tmp_path / "x", tr)


def test_twitter_csv(tmp_path) -> None:
    path = tmp_path / "cluster.csv"
    path.write_text(
        "0,abc,3,100,7,get,0\n0,xyz,3,20,7,set,3600\n1,abc,3,100,8,gets,0\n2,q-1,3,5,9,delete,0\n"
    )
    tr = read_twitter_csv(path)
    assert tr.keys.tolist() == [0, 1, 0, 2]
    assert tr.sizes.tolist() == [103, 23, 103, 8]
    assert tr.ops.tolist() == [OP_GET, OP_SET, OPS.index("gets"), OPS.index("delete")]
    assert np.isnan(tr.ttls_s[0]) and tr.ttls_s[1] == 3600.0
    assert tr.writes.tolist() == [False, True, False, False]
    assert tr.times_s.tolist() == [0.0, 0.0, 1.0, 2.0]


def test_twitter_csv_unknown_op(tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("0,a,1,1,1,frobnicate,0\n")
    with pytest.raises(ValueError, match="frobnicate"):
        read_twitter_csv(path)


def test_generic_csv_and_string_keys(tmp_path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("ts,size,key\n5,10,007\n6,20,7\n7,10,007\n")
    tr = read_csv(path, time_col=0, key_col=2, size_col=1, has_header=True)
    assert tr.keys.tolist() == [0, 1, 0]  # "007" and "7" are different keys
    assert tr.sizes.tolist() == [10, 20, 10]
    assert tr.times_s.tolist() == [5.0, 6.0, 7.0]
    num = read_csv(path, time_col=None, key_col=2, size_col=None, has_header=True, numeric_keys=True)
    assert num.keys.tolist() == [7, 7, 7] and num.sizes.tolist() == [1, 1, 1]


def test_key_per_line(tmp_path) -> None:
    path = tmp_path / "k.txt"
    path.write_text("a\nb\n\na\nc\n")
    tr = read_key_per_line(path)
    assert tr.keys.tolist() == [0, 1, 0, 2]
    assert tr.times_s.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_trace_length_check() -> None:
    with pytest.raises(ValueError):
        Trace(np.zeros(2), np.zeros(3, dtype=np.int64), np.ones(3), np.zeros(3), np.zeros(3))


def test_zipf_trace_is_seeded_and_zipf() -> None:
    a = zipf_trace(200_000, 1_000, 1.0, seed=9)
    b = zipf_trace(200_000, 1_000, 1.0, seed=9)
    assert np.array_equal(a.keys, b.keys) and np.array_equal(a.times_s, b.times_s)
    p = zipf_probabilities(1_000, 1.0)
    for rank in (0, 1, 9):
        freq = np.mean(a.keys == rank)
        sd = np.sqrt(p[rank] * (1 - p[rank]) / len(a))  # binomial
        assert abs(freq - p[rank]) < 5 * sd
    # Poisson arrivals at 1000/s: mean gap 1 ms, sd of the mean 1ms/sqrt(n)
    assert abs(np.diff(a.times_s).mean() - 1e-3) < 5e-3 / np.sqrt(len(a))


def test_zipf_shuffled_ids_and_per_key_sizes() -> None:
    sizes = np.arange(10, 110)
    tr = zipf_trace(5_000, 100, 1.2, seed=3, size_bytes=sizes, shuffle_ids=True)
    assert np.array_equal(tr.sizes, sizes[tr.keys])
    assert 0 <= tr.keys.min() and tr.keys.max() < 100
    plain = zipf_trace(5_000, 100, 1.2, seed=3)
    assert np.array_equal(
        np.sort(np.bincount(tr.keys, minlength=100)), np.sort(np.bincount(plain.keys, minlength=100))
    )


def test_next_access_index() -> None:
    assert next_access_index(np.array([3, 1, 3, 3, 1])).tolist() == [2, 4, 3, -1, -1]
