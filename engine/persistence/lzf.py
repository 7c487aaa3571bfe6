"""LZF, the compressor Redis uses for long strings in RDB files (``rdbcompression yes``).

The format is Marc Lehmann's liblzf as vendored in Redis (``lzf_c.c``, ``lzf_d.c``): a stream
of literal runs (control byte ``000LLLLL``: copy ``L + 1`` bytes) and back references
(control byte ``LLLooooo`` then, when ``LLL == 7``, one more length byte, then the low
offset byte: copy ``len + 2`` bytes starting ``offset + 1`` bytes back).  An RDB string is
written compressed (``RDB_ENC_LZF``) only when it is longer than 20 bytes and compression
saves at least 4 bytes (``rdbSaveLzfStringObject``); writing it uncompressed is always valid.

The compressor is a port of liblzf's, hash function, match extension and output-size checks
included, so the engine writes the bytes Redis writes (DUMP payloads are compared byte for byte
by the differential fuzz).  It is pure Python, so :data:`COMPRESS_MAX_BYTES` bounds the sizes
it is used for (longer strings are written plain, which Redis reads but would compress).
"""

from __future__ import annotations

__all__ = ["COMPRESS_MAX_BYTES", "LzfError", "compress", "decompress"]

#: Longest input :func:`compress` is asked to handle by the RDB writer; longer strings are
#: written raw, which the format allows and which keeps BGSAVE time linear and small.
COMPRESS_MAX_BYTES = 64 * 1024

_MAX_LIT = 1 << 5  # 32 literal bytes per run
_MAX_OFF = 1 << 13  # 8192 bytes back
_MAX_REF = (1 << 8) + (1 << 3)  # 264 bytes per reference
_HSIZE = 1 << 16  # liblzf's HLOG 16
_HMASK = _HSIZE - 1


class LzfError(ValueError):
    """The compressed data is not a valid LZF stream or does not expand to the stated length."""


def decompress(data: bytes | bytearray | memoryview, out_len: int) -> bytes:
    """Expand ``data`` to exactly ``out_len`` bytes (``lzf_decompress`` in lzf_d.c)."""
    src = bytes(data)
    out = bytearray()
    i = 0
    n = len(src)
    while i < n:
        ctrl = src[i]
        i += 1
        if ctrl < 32:
            run = ctrl + 1
            if i + run > n:
                raise LzfError("literal run past end of input")
            out += src[i : i + run]
            i += run
        else:
            length = ctrl >> 5
            if length == 7:
                if i >= n:
                    raise LzfError("truncated back reference")
                length += src[i]
                i += 1
            if i >= n:
                raise LzfError("truncated back reference")
            ref = len(out) - ((ctrl & 0x1F) << 8) - 1 - src[i]
            i += 1
            if ref < 0:
                raise LzfError("back reference before start of output")
            length += 2
            if ref + length <= len(out):
                out += out[ref : ref + length]
            else:
                for k in range(length):
                    out.append(out[ref + k])
        if len(out) > out_len:
            raise LzfError("output longer than stated length")
    if len(out) != out_len:
        raise LzfError(f"expanded to {len(out)} bytes, expected {out_len}")
    return bytes(out)


def compress(data: bytes | bytearray | memoryview, out_len: int | None = None) -> bytes:
    """Compress ``data`` as liblzf's ``lzf_compress`` does in Redis (lzf_c.c 3.6 with Redis's
    lzfP.h: ``HLOG`` 16, ``VERY_FAST``, offsets into the input as hash slots), so DUMP payloads
    and RDB files match Redis's byte for byte.  Returns ``b""`` where liblzf returns 0: empty
    input, or output that would not fit in ``out_len`` bytes (Redis passes ``len - 4``, so a
    string that does not shrink by 4 bytes is stored plain).

    liblzf leaves its hash table uninitialised; a slot not yet written in this call is taken
    here as offset 0, which its ``ref > in_data`` test refuses, as a fresh table would."""
    src = bytes(data)
    n = len(src)
    if not n or out_len == 0:
        return b""
    end = n + 64 if out_len is None else out_len
    htab = [0] * _HSIZE
    out = bytearray(b"\0")  # the first literal run's control byte, filled in when it ends
    run_at = 0
    lit = 0
    ip = 0
    hval = (src[0] << 8) | src[1] if n > 1 else 0
    while ip < n - 2:
        hval = ((hval << 8) | src[ip + 2]) & 0xFFFFFFFF
        slot = ((hval >> 8) - hval * 5) & _HMASK
        ref = htab[slot]
        htab[slot] = ip
        off = ip - ref - 1
        if 0 <= off < _MAX_OFF and ref > 0 and src[ref + 2] == src[ip + 2] and src[ref] == src[ip] \
                and src[ref + 1] == src[ip + 1]:
            maxlen = min(n - ip - 2, _MAX_REF)
            if len(out) + 4 >= end and len(out) - (not lit) + 4 >= end:
                return b""
            out[run_at] = lit - 1 if lit else 0
            if not lit:
                del out[run_at]
            length = 3
            if maxlen > 16:
                # lzf_c.c's unrolled loop checks bytes 3..18 without the maxlen bound.
                while length < 19 and src[ref + length] == src[ip + length]:
                    length += 1
                if length == 19:
                    while length < maxlen and src[ref + length] == src[ip + length]:
                        length += 1
            else:
                while length < maxlen and src[ref + length] == src[ip + length]:
                    length += 1
            enc = length - 2
            if enc < 7:
                out.append((off >> 8) + (enc << 5))
            else:
                out.append((off >> 8) + (7 << 5))
                out.append(enc - 7)
            out.append(off & 0xFF)
            out.append(0)
            run_at = len(out) - 1
            lit = 0
            ip += length
            if ip >= n - 2:
                break
            ip -= 2
            hval = (src[ip] << 8) | src[ip + 1]
            for _ in range(2):
                hval = ((hval << 8) | src[ip + 2]) & 0xFFFFFFFF
                htab[((hval >> 8) - hval * 5) & _HMASK] = ip
                ip += 1
        else:
            if len(out) >= end:
                return b""
            lit += 1
            out.append(src[ip])
            ip += 1
            if lit == _MAX_LIT:
                out[run_at] = lit - 1
                lit = 0
                out.append(0)
                run_at = len(out) - 1
    if len(out) + 3 > end:
        return b""
    while ip < n:
        lit += 1
        out.append(src[ip])
        ip += 1
        if lit == _MAX_LIT:
            out[run_at] = lit - 1
            lit = 0
            out.append(0)
            run_at = len(out) - 1
    if lit:
        out[run_at] = lit - 1
    else:
        del out[run_at]
    return bytes(out)


def _literals(out: bytearray, src: bytes, start: int, end: int) -> None:
    """Append ``src[start:end]`` as literal runs of at most 32 bytes."""
    while start < end:
        run = min(_MAX_LIT, end - start)
        out.append(run - 1)
        out += src[start : start + run]
        start += run
