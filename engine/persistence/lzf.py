"""LZF, the compressor Redis uses for long strings in RDB files (``rdbcompression yes``).

The format is Marc Lehmann's liblzf as vendored in Redis (``lzf_c.c``, ``lzf_d.c``): a stream
of literal runs (control byte ``000LLLLL``: copy ``L + 1`` bytes) and back references
(control byte ``LLLooooo`` then, when ``LLL == 7``, one more length byte, then the low
offset byte: copy ``len + 2`` bytes starting ``offset + 1`` bytes back).  An RDB string is
written compressed (``RDB_ENC_LZF``) only when it is longer than 20 bytes and compression
saves at least 4 bytes (``rdbSaveLzfStringObject``); writing it uncompressed is always valid.

The compressor here is a plain greedy single-hash matcher: its output differs byte for byte
from liblzf's (which hashes differently), but any conforming decompressor, Redis's included,
reads it.  It is pure Python, so :data:`COMPRESS_MAX_BYTES` bounds the sizes it is used for.
"""

from __future__ import annotations

__all__ = ["COMPRESS_MAX_BYTES", "LzfError", "compress", "decompress"]

#: Longest input :func:`compress` is asked to handle by the RDB writer; longer strings are
#: written raw, which the format allows and which keeps BGSAVE time linear and small.
COMPRESS_MAX_BYTES = 64 * 1024

_MAX_LIT = 1 << 5  # 32 literal bytes per run
_MAX_OFF = 1 << 13  # 8192 bytes back
_MAX_REF = (1 << 8) + (1 << 3)  # 264 bytes per reference


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


def compress(data: bytes | bytearray | memoryview) -> bytes:
    """Compress ``data`` into an LZF stream (any length, including 0)."""
    src = bytes(data)
    n = len(src)
    out = bytearray()
    table: dict[bytes, int] = {}
    lit_start = 0
    i = 0

    while i + 2 < n:
        key = src[i : i + 3]
        ref = table.get(key)
        table[key] = i
        if ref is not None and 0 < i - ref <= _MAX_OFF:
            off = i - ref - 1
            max_len = min(_MAX_REF, n - i)
            length = 3
            # Extend the match 16 bytes at a time while whole chunks agree, then byte by byte.
            while length + 16 <= max_len and src[ref + length : ref + length + 16] == src[i + length : i + length + 16]:
                length += 16
            while length < max_len and src[ref + length] == src[i + length]:
                length += 1
            _literals(out, src, lit_start, i)
            enc = length - 2
            if enc < 7:
                out.append((enc << 5) | (off >> 8))
            else:
                out.append((7 << 5) | (off >> 8))
                out.append(enc - 7)
            out.append(off & 0xFF)
            for k in range(i + 1, min(i + length, n - 2)):
                table[src[k : k + 3]] = k
            i += length
            lit_start = i
        else:
            i += 1
    _literals(out, src, lit_start, n)
    return bytes(out)


def _literals(out: bytearray, src: bytes, start: int, end: int) -> None:
    """Append ``src[start:end]`` as literal runs of at most 32 bytes."""
    while start < end:
        run = min(_MAX_LIT, end - start)
        out.append(run - 1)
        out += src[start : start + run]
        start += run
