"""Keep the caller's frame when a script tail-calls a library function (``return redis.call(...)``).

PUC Lua 5.1, which Redis runs, never turns a call to a C function into a real tail call, so
an error raised by ``redis.call``, ``error`` or ``string.rep`` in ``return f(...)`` still
names the script's line ("user_script:1: ...", "... on @user_script:1.") and the function
("bad argument #1 to 'rep'").  LuaJIT (engine/scripting_vm.py) does replace the caller's
frame, and both are lost.  So before a script is compiled, each ``return`` whose whole
expression list is one call of a library function becomes ``return select(1, <call>)``:
the call is then an argument, made from the script's own frame, and ``select(1, ...)``
passes every result on unchanged.  Only calls whose callee is one of the sandbox's library
globals (which a script cannot redefine) or a string method are rewritten, so a script's
own tail recursion stays a proper tail call, as in Lua 5.1.

The rewrite inserts no newline, so line numbers stay those of the script; a script that does
not tokenize cleanly is left as it is (its compile error is Lua's own).
"""

from __future__ import annotations

import re

__all__ = ["keep_caller_frames", "SELECT_LOCAL"]

# The upvalue the rewritten returns call; declared on the script's first line.
SELECT_LOCAL = "__redis_select__"

# Globals of the sandbox whose values are C (or Python) functions or tables of them.
_LIBRARY_GLOBALS = frozenset({
    "redis", "cjson", "cmsgpack", "bit", "struct", "string", "table", "math", "coroutine",
    "error", "assert", "tostring", "tonumber", "type", "unpack", "select", "pcall", "xpcall",
    "rawget", "rawset", "rawequal", "setmetatable", "getmetatable", "next", "pairs", "ipairs",
    "loadstring", "load", "collectgarbage", "gcinfo",
})
_STRING_METHODS = frozenset({
    "byte", "char", "dump", "find", "format", "gfind", "gmatch", "gsub", "len", "lower", "match",
    "rep", "reverse", "sub", "upper",
})
_TERMINATORS = frozenset({"end", "else", "elseif", "until", ";"})

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>--(?:\[(?P<ceq>=*)\[.*?\](?P=ceq)\]|[^\n]*))
  | (?P<string>\[(?P<leq>=*)\[.*?\](?P=leq)\]|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<op>\.\.\.|\.\.|==|~=|<=|>=|[-+*/%^\#<>=(){}\[\];:,.])
""", re.S | re.X)

_Token = tuple[str, str, int, int]  # kind, text, start, end
_CLOSE = {"(": ")", "[": "]", "{": "}"}


def _tokens(text: str) -> list[_Token] | None:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            return None  # something Lua's lexer will reject (or that we do not read): leave it
        kind = m.lastgroup or ""
        if kind == "ceq" or kind == "leq":  # named subgroups report the outer group's name
            kind = "comment" if m.group("comment") else "string"
        if kind not in ("ws", "comment"):
            out.append((kind, m.group(), m.start(), m.end()))
        pos = m.end()
    return out


def _skip_group(toks: list[_Token], i: int) -> int | None:
    """Index after the bracket group opening at ``i`` (nested brackets of any kind)."""
    stack = [_CLOSE[toks[i][1]]]
    i += 1
    while i < len(toks) and stack:
        kind, text = toks[i][0], toks[i][1]
        if kind == "op" and text in _CLOSE:
            stack.append(_CLOSE[text])
        elif kind == "op" and text in (")", "]", "}"):
            if text != stack.pop():
                return None
        i += 1
    return i if not stack else None


def _call_span(toks: list[_Token], i: int) -> int | None:
    """If ``toks[i:]`` is one call of a library function up to a block's end, the index after it."""
    if i >= len(toks):
        return None
    kind, text = toks[i][0], toks[i][1]
    library_head = kind == "name" and text in _LIBRARY_GLOBALS
    if kind == "name" or kind == "string":
        j: int | None = i + 1
    elif kind == "op" and text == "(":
        j = _skip_group(toks, i)
    else:
        return None
    last_call_is_string_method = False
    last_was_call = False
    while j is not None and j < len(toks):
        kind, text = toks[j][0], toks[j][1]
        if kind == "op" and text == "." and j + 1 < len(toks) and toks[j + 1][0] == "name":
            j, last_was_call = j + 2, False
        elif kind == "op" and text == "[":
            j, last_was_call = _skip_group(toks, j), False
        elif (kind == "op" and text == ":" and j + 2 < len(toks) and toks[j + 1][0] == "name"):
            method = toks[j + 1][1]
            args = toks[j + 2]
            if args[0] == "string":
                j = j + 3
            elif args[0] == "op" and args[1] in ("(", "{"):
                j = _skip_group(toks, j + 2)
            else:
                return None
            last_was_call, last_call_is_string_method = True, method in _STRING_METHODS
        elif kind == "string":
            j, last_was_call, last_call_is_string_method = j + 1, True, False
        elif kind == "op" and text in ("(", "{"):
            j, last_was_call, last_call_is_string_method = _skip_group(toks, j), True, False
        else:
            break
    if j is None or not last_was_call:
        return None
    if j < len(toks) and not (toks[j][0] in ("name", "op") and toks[j][1] in _TERMINATORS):
        return None
    if not (library_head or last_call_is_string_method):
        return None
    return j


def keep_caller_frames(body: bytes) -> bytes:
    """``body`` with its library tail calls made from the script's frame (see the module doc)."""
    text = body.decode("latin-1")
    toks = _tokens(text)
    if toks is None:
        return body
    inserts: list[tuple[int, str]] = []
    for i, (kind, word, _, _) in enumerate(toks):
        if kind != "name" or word != "return":
            continue
        end = _call_span(toks, i + 1)
        if end is None:
            continue
        inserts.append((toks[i + 1][2], f"{SELECT_LOCAL}(1, "))
        inserts.append((toks[end - 1][3], ")"))
    if not inserts:
        return body
    for pos, piece in sorted(inserts, key=lambda p: p[0], reverse=True):
        text = text[:pos] + piece + text[pos:]
    return (f"local {SELECT_LOCAL} = select; " + text).encode("latin-1")
