"""Redis's HyperLogLog (hyperloglog.c): the string layout, sparse and dense registers, estimator.

An HLL is an ordinary string value, so it moves between servers with GET/SET or DUMP/RESTORE;
the engine therefore keeps Redis's exact bytes:

* a 16-byte header: ``HYLL``, the encoding (0 dense, 1 sparse), 3 unused bytes and the cached
  cardinality (8 bytes little-endian; the top bit of the last byte set means "stale");
* dense: 16384 registers of 6 bits packed least-significant-bit first (12288 bytes);
* sparse: opcodes ZERO ``00xxxxxx`` (1-64 zero registers), XZERO ``01xxxxxx yyyyyyyy``
  (1-16384 zeros) and VAL ``1vvvvvxx`` (1-4 registers of value 1-32), edited in place exactly as
  hllSparseSet edits them (split, then merge adjacent VALs), promoted to dense when a value
  exceeds 32 or the string would outgrow ``hll-sparse-max-bytes``.

Elements are hashed with MurmurHash64A (seed 0xadc83b19); the count is Otmar Ertl's
improved estimator that Redis 5+ uses, rounded with llroundl.  Same input, same bytes, same
count as redis-server.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_right

__all__ = [
    "HLL_REGISTERS", "DENSE", "SPARSE", "HllError", "murmurhash64a", "pat_len", "new_sparse", "is_hll",
    "add", "count", "merge_into", "set_register", "to_dense", "registers",
]

HLL_P = 14
HLL_Q = 64 - HLL_P
HLL_REGISTERS = 1 << HLL_P
HLL_P_MASK = HLL_REGISTERS - 1
HLL_BITS = 6
HLL_REGISTER_MAX = 63
HLL_HDR_SIZE = 16
HLL_DENSE_SIZE = HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) // 8
DENSE = 0
SPARSE = 1
RAW = 255
SPARSE_VAL_MAX_VALUE = 32
SPARSE_VAL_MAX_LEN = 4
SPARSE_ZERO_MAX_LEN = 64
SPARSE_XZERO_MAX_LEN = 16384
ALPHA_INF = 0.721347520444481703680
_M64 = (1 << 64) - 1
_Q_BIT = 1 << HLL_Q
# struct readers of 0..63 little-endian 64-bit words (elements up to 511 bytes)
_WORDS = [struct.Struct(f"<{i}Q").unpack_from for i in range(64)]


class HllError(ValueError):
    """A corrupted HLL (Redis: ``INVALIDOBJ Corrupted HLL object detected``)."""


def murmurhash64a(data: bytes, seed: int = 0xADC83B19) -> int:
    """MurmurHash64A as Redis compiles it on little-endian machines.  The 8-byte words are
    read by one precompiled ``struct`` call (PFADD's 14-byte element: 1.15 -> 0.96 us)."""
    m = 0xC6A4A7935BD1E995
    n = len(data)
    h = (seed ^ (n * m)) & _M64
    nw = n >> 3
    words = _WORDS[nw](data) if nw < len(_WORDS) else struct.unpack_from(f"<{nw}Q", data)
    for k in words:
        k = (k * m) & _M64
        k ^= k >> 47
        h ^= (k * m) & _M64
        h = (h * m) & _M64
    if n & 7:
        # the switch's fall-through XORs byte j at bit 8*j: the tail read as a little-endian int
        h ^= int.from_bytes(data[nw << 3:], "little")
        h = (h * m) & _M64
    h ^= h >> 47
    h = (h * m) & _M64
    h ^= h >> 47
    return h


def pat_len(element: bytes) -> tuple[int, int]:
    """hllPatLen: (register index, length of the 000..1 pattern)."""
    h = murmurhash64a(element)
    index = h & HLL_P_MASK
    h >>= HLL_P
    h |= 1 << HLL_Q
    # count = 1 + number of trailing zero bits
    return index, ((h & -h).bit_length())


def new_sparse() -> bytearray:
    """createHLLObject: the empty sparse HLL (one XZERO opcode covering every register)."""
    buf = bytearray(b"HYLL" + bytes([SPARSE, 0, 0, 0]) + bytes(8))
    left = HLL_REGISTERS
    while left:
        run = min(SPARSE_XZERO_MAX_LEN, left)
        buf += bytes(((run - 1) >> 8 | 0x40, (run - 1) & 0xFF))
        left -= run
    return buf


def is_hll(value: bytes | bytearray) -> bool:
    """isHLLObjectOrReply's checks (the int encoding is ruled out by the caller)."""
    if len(value) < HLL_HDR_SIZE or not value.startswith(b"HYLL") or value[4] > 1:
        return False
    return not (value[4] == DENSE and len(value) != HLL_DENSE_SIZE)


def invalidate(buf: bytearray) -> None:
    buf[15] |= 0x80


def cached(buf: bytes | bytearray) -> int | None:
    if buf[15] & 0x80:
        return None
    return int.from_bytes(buf[8:16], "little")


def store_cache(buf: bytearray, card: int) -> None:
    buf[8:16] = card.to_bytes(8, "little")


# -- dense ----------------------------------------------------------------------------------
def _dget(buf: bytes | bytearray, reg: int) -> int:
    base = HLL_HDR_SIZE
    byte = reg * HLL_BITS // 8
    fb = reg * HLL_BITS & 7
    b0 = buf[base + byte]
    b1 = buf[base + byte + 1] if base + byte + 1 < len(buf) else 0
    return ((b0 >> fb) | (b1 << (8 - fb))) & HLL_REGISTER_MAX


def _dset(buf: bytearray, reg: int, val: int) -> None:
    base = HLL_HDR_SIZE
    byte = reg * HLL_BITS // 8
    fb = reg * HLL_BITS & 7
    fb8 = 8 - fb
    buf[base + byte] = (buf[base + byte] & ~(HLL_REGISTER_MAX << fb) & 0xFF) | ((val << fb) & 0xFF)
    if base + byte + 1 < len(buf):
        nxt = base + byte + 1
        buf[nxt] = (buf[nxt] & ~(HLL_REGISTER_MAX >> fb8) & 0xFF) | (val >> fb8)


def _dense_registers(buf: bytes | bytearray) -> list[int]:
    """Every register of a dense HLL: four 6-bit registers in each 3 bytes, LSB first."""
    regs: list[int] = []
    data = bytes(buf[HLL_HDR_SIZE:HLL_DENSE_SIZE])
    for i in range(0, len(data), 3):
        v = data[i] | data[i + 1] << 8 | data[i + 2] << 16
        regs += (v & 63, (v >> 6) & 63, (v >> 12) & 63, v >> 18)
    return regs


def _dense_from_registers(header: bytes | bytearray, regs: list[int]) -> bytearray:
    out = bytearray(header[:HLL_HDR_SIZE])
    out[4] = DENSE
    body = bytearray(HLL_DENSE_SIZE - HLL_HDR_SIZE)
    j = 0
    for i in range(0, HLL_REGISTERS, 4):
        v = regs[i] | regs[i + 1] << 6 | regs[i + 2] << 12 | regs[i + 3] << 18
        body[j] = v & 0xFF
        body[j + 1] = (v >> 8) & 0xFF
        body[j + 2] = v >> 16
        j += 3
    return out + body


# -- sparse ---------------------------------------------------------------------------------
def _next_byte(buf: bytes | bytearray, p: int) -> int:
    """The second byte of the XZERO opcode at ``p``: a corrupted HLL may end after the first,
    where Redis reads the sds string's NUL terminator (so no error of its own)."""
    return buf[p + 1] if p + 1 < len(buf) else 0


def _sparse_registers(buf: bytes | bytearray) -> list[int]:
    regs = [0] * HLL_REGISTERS
    idx = 0
    p = HLL_HDR_SIZE
    end = len(buf)
    while p < end:
        op = buf[p]
        if op & 0x80:
            runlen = (op & 3) + 1
            value = ((op >> 2) & 0x1F) + 1
            if idx + runlen > HLL_REGISTERS:
                raise HllError("sparse HLL longer than its registers")
            for i in range(idx, idx + runlen):
                regs[i] = value
            idx += runlen
            p += 1
        elif op & 0x40:
            idx += (((op & 0x3F) << 8) | _next_byte(buf, p)) + 1
            p += 2
        else:
            idx += (op & 0x3F) + 1
            p += 1
    if idx != HLL_REGISTERS:
        raise HllError("sparse HLL does not cover every register")
    return regs


def registers(buf: bytes | bytearray) -> list[int]:
    """The 16384 register values of a dense or sparse HLL."""
    return _dense_registers(buf) if buf[4] == DENSE else _sparse_registers(buf)


def to_dense(buf: bytearray) -> bytearray:
    """hllSparseToDense (the header, cached count included, is kept)."""
    if buf[4] == DENSE:
        return buf
    return _dense_from_registers(buf, _sparse_registers(buf))


def _val(value: int, length: int) -> int:
    return ((value - 1) << 2 | (length - 1)) | 0x80


def _zero_run(length: int) -> bytes:
    if length > SPARSE_ZERO_MAX_LEN:
        return bytes(((length - 1) >> 8 | 0x40, (length - 1) & 0xFF))
    return bytes((length - 1,))


# Where each opcode starts, sampled: hllSparseSet walks the opcodes from the first one to find
# the register's, which is ~3000 steps in Python for a full sparse HLL (C does it in
# microseconds).  The engine keeps, per buffer, the (register, byte offset) of every
# _MARK_EVERY-th opcode and walks from the nearest mark before the register instead.  A mark
# set is only used while the buffer still holds the bytes it was computed for (a snapshot is
# compared), so any other writer (SETRANGE, RESTORE, ...) just costs one full walk.
_MARK_EVERY = 32
_MARKS_KEPT = 64
_marks: dict[int, tuple[bytes, list[int], list[int]]] = {}


def _walk_marks(buf: bytearray, p: int, first: int, stop: int) -> tuple[list[int], list[int], int]:
    """Marks of the opcodes from byte ``p`` (register ``first``) up to byte ``stop``; returns
    (registers, offsets, the offset the walk ended at)."""
    regs: list[int] = []
    offs: list[int] = []
    n = 0
    end = min(stop, len(buf))
    while p < end:
        if not n % _MARK_EVERY:
            regs.append(first)
            offs.append(p)
        n += 1
        op = buf[p]
        if op & 0x80:
            first += (op & 3) + 1
            p += 1
        elif op & 0x40:
            first += (((op & 0x3F) << 8) | _next_byte(buf, p)) + 1
            p += 2
        else:
            first += (op & 0x3F) + 1
            p += 1
    return regs, offs, min(p, len(buf))


def _marks_of(buf: bytearray) -> tuple[list[int], list[int]]:
    got = _marks.get(id(buf))
    if got is not None and got[0] == buf:
        return got[1], got[2]
    regs, offs, _ = _walk_marks(buf, HLL_HDR_SIZE, 0, len(buf))
    if not regs:
        raise HllError("empty sparse HLL")
    _keep_marks(buf, regs, offs)
    return regs, offs


def _keep_marks(buf: bytearray, regs: list[int], offs: list[int]) -> None:
    key = id(buf)
    if key not in _marks and len(_marks) >= _MARKS_KEPT:
        try:  # the oldest entry; servers in other threads of this process share the table
            _marks.pop(next(iter(_marks)), None)
        except (RuntimeError, StopIteration):
            _marks.clear()
    _marks[key] = (bytes(buf), regs, offs)


def _sparse_set(buf: bytearray, index: int, count: int, max_bytes: int) -> tuple[bytearray, int]:
    """hllSparseSet: returns (possibly promoted buffer, 1 if a register changed else 0)."""
    if count > SPARSE_VAL_MAX_VALUE:
        return _promote(buf, index, count)
    marks_regs, marks_offs = _marks_of(buf)
    k = bisect_right(marks_regs, index) - 1
    if k < 0:
        raise HllError("register index beyond the sparse HLL")
    end = old_len = len(buf)
    while True:
        # Step 1: find the opcode covering ``index`` and the one before it (the merge of step 4
        # starts there), walking from mark k.
        p = marks_offs[k]
        first = marks_regs[k]
        prev = -1
        span = 0
        while p < end:
            op = buf[p]
            oplen = 1
            if op & 0xC0 == 0:
                span = (op & 0x3F) + 1
            elif op & 0x80:
                span = (op & 3) + 1
            else:
                span = (((op & 0x3F) << 8) | _next_byte(buf, p)) + 1
                oplen = 2
            if index <= first + span - 1:
                break
            prev = p
            p += oplen
            first += span
        if prev >= 0 or k == 0:
            break
        k -= 1  # the register is in the mark's own opcode: the opcode before is in the previous stretch
    if span == 0 or p >= end:
        raise HllError("register index beyond the sparse HLL")
    op = buf[p]
    is_val = bool(op & 0x80)
    is_xzero = not is_val and bool(op & 0x40)
    is_zero = not is_val and not is_xzero
    runlen = span
    done = False
    if is_val:
        oldcount = ((op >> 2) & 0x1F) + 1
        if oldcount >= count:
            return buf, 0
        if runlen == 1:
            buf[p] = _val(count, 1)
            done = True
    if not done and is_zero and runlen == 1:
        buf[p] = _val(count, 1)
        done = True
    if not done:
        last = first + span - 1
        seq = bytearray()
        if is_zero or is_xzero:
            if index != first:
                seq += _zero_run(index - first)
            seq.append(_val(count, 1))
            if index != last:
                seq += _zero_run(last - index)
        else:
            curval = ((op >> 2) & 0x1F) + 1
            if index != first:
                seq.append(_val(curval, index - first))
            seq.append(_val(count, 1))
            if index != last:
                seq.append(_val(curval, last - index))
        oldlen = 2 if is_xzero else 1
        if len(seq) - oldlen > 0 and len(buf) + len(seq) - oldlen > max_bytes:
            return _promote(buf, index, count)
        buf[p:p + oldlen] = seq
    # Step 4: merge adjacent VAL opcodes with the same value, scanning up to 5 opcodes.
    p = prev if prev >= 0 else HLL_HDR_SIZE
    end = len(buf)
    scan = 5
    while p < end and scan:
        scan -= 1
        op = buf[p]
        if not op & 0x80:
            p += 2 if op & 0x40 else 1
            continue
        if p + 1 < end and buf[p + 1] & 0x80:
            v1 = ((op >> 2) & 0x1F) + 1
            v2 = ((buf[p + 1] >> 2) & 0x1F) + 1
            if v1 == v2:
                length = (op & 3) + 1 + (buf[p + 1] & 3) + 1
                if length <= SPARSE_VAL_MAX_LEN:
                    buf[p + 1] = _val(v1, length)
                    del buf[p]
                    end -= 1
                    continue
        p += 1
    invalidate(buf)
    # Marks from k on were walked over; rebuild them up to the first mark past what changed
    # (everything after it only moved by the change in length).
    delta = len(buf) - old_len
    touched = p + 2 - delta  # in the old offsets: nothing at or after it changed
    j = bisect_right(marks_offs, touched, k + 1)
    stop = marks_offs[j] + delta if j < len(marks_offs) else len(buf)
    regs, offs, reached = _walk_marks(buf, marks_offs[k], marks_regs[k], stop)
    if reached != stop:
        raise HllError("sparse HLL opcodes do not line up")
    marks_regs[k:j] = regs
    marks_offs[k:] = offs + [o + delta for o in marks_offs[j:]]
    _keep_marks(buf, marks_regs, marks_offs)
    return buf, 1


def _promote(buf: bytearray, index: int, count: int) -> tuple[bytearray, int]:
    dense = to_dense(buf)
    set_register(dense, index, count, 0)
    return dense, 1


def set_register(buf: bytearray, index: int, count: int, max_bytes: int) -> tuple[bytearray, int]:
    """hllDenseSet / hllSparseSet: raise register ``index`` to ``count``."""
    if buf[4] == DENSE:
        if _dget(buf, index) < count:
            _dset(buf, index, count)
            return buf, 1
        return buf, 0
    return _sparse_set(buf, index, count, max_bytes)


def add(buf: bytearray, element: bytes, max_bytes: int) -> tuple[bytearray, int]:
    """hllAdd: hllPatLen then hllDenseSet / hllSparseSet, inlined for the dense case (PFADD's
    steady state: one hash and two byte reads per element, no further calls)."""
    h = murmurhash64a(element)
    index = h & HLL_P_MASK
    h = (h >> HLL_P) | _Q_BIT
    cnt = (h & -h).bit_length()
    if buf[4] != DENSE:
        return _sparse_set(buf, index, cnt, max_bytes)
    bit = index * HLL_BITS
    pos = HLL_HDR_SIZE + (bit >> 3)
    fb = bit & 7
    if pos + 1 < HLL_DENSE_SIZE:
        if (((buf[pos] | buf[pos + 1] << 8) >> fb) & HLL_REGISTER_MAX) >= cnt:
            return buf, 0
    elif ((buf[pos] >> fb) & HLL_REGISTER_MAX) >= cnt:
        return buf, 0
    _dset(buf, index, cnt)
    return buf, 1


def merge_into(target: list[int], buf: bytes | bytearray) -> None:
    """hllMerge: target[i] = max(target[i], register i)."""
    for i, v in enumerate(registers(buf)):
        if v > target[i]:
            target[i] = v


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prime = z
        z += x * y
        y += y
        if z_prime == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        z_prime = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if z_prime == z:
            return z / 3


def count(regs: list[int]) -> int:
    """hllCount's estimator (Ertl, arXiv:1702.01284) over register values."""
    m = float(HLL_REGISTERS)
    histo = [0] * 64
    for v in regs:
        histo[v] += 1
    z = m * _tau((m - histo[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += histo[j]
        z *= 0.5
    z += m * _sigma(histo[0] / m)
    e = ALPHA_INF * m * m / z
    r = math.floor(e)
    return int(r + 1 if e - r >= 0.5 else r)
