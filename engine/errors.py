"""The error replies the engine sends, worded as Redis 7.0 words them.

Handlers raise these; the connection turns them into ``-`` replies in one place.  Keeping the
texts here makes it easy to check them against Redis's own (server.c ``shared.*`` objects and
the ``addReplyError*`` call sites) and impossible for two commands to word one error twice.

Which texts live here.  Every text sent from more than one place -- by two command modules,
by two raise sites of one module, or by the argument parsers of engine/args.py that every
command shares -- is a constant here, or a function or exception type when it carries values.
A text one raise site alone sends (``ERR XGROUP CREATECONSUMER ...``-style rules of a single
command) stays inline at that site, where it reads as that command's own rule: moving it here
would only add a name to look up.  tests/engine/test_errors_catalogue.py holds the command
modules, engine/args.py, the scripting modules and every other engine module to this: no
error text literal appears twice, and none repeats a text defined here.
"""

from __future__ import annotations

__all__ = [
    "RedisError",
    "CommandError",
    "TypedNameError",
    "WrongTypeError",
    "ProtocolError",
    "NoAuthError",
    "NoPermError",
    "OOMError",
    "BusyError",
    "NoScriptError",
    "ExecAbortError",
    "ScriptError",
    "ScriptCallError",
    "ClientClosing",
    "wrong_arity",
    "unknown_command",
    "unknown_subcommand",
    "SYNTAX",
    "NOT_INTEGER",
    "NOT_FLOAT",
    "NO_SUCH_KEY",
    "OUT_OF_RANGE",
    "DB_INDEX_OUT_OF_RANGE",
    "INVALID_EXPIRE",
    "INCR_OVERFLOW",
    "NAN_OR_INF",
    "BIT_OFFSET",
    "BIT_VALUE",
    "STRING_TOO_LONG",
    "HASH_NOT_INTEGER",
    "HASH_NOT_FLOAT",
    "NOT_POSITIVE",
    "SAME_OBJECT",
    "value_not_in_range",
    "unknown_client_type",
    "no_such_group",
]


class RedisError(Exception):
    """An error reply.  ``str(err)`` is the text after the ``-`` (prefix included)."""

    prefix = "ERR"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def reply_text(self) -> str:
        """The full reply line, e.g. ``ERR syntax error``: messages that already start with an
        upper-case error code (``WRONGTYPE ...``) are kept, others get ``prefix``."""
        head = self.message.split(" ", 1)[0]
        if len(head) > 1 and head.isalpha() and head.isupper():
            return self.message
        return f"{self.prefix} {self.message}"

    def __str__(self) -> str:
        return self.reply_text()


class CommandError(RedisError):
    """A plain ``-ERR`` reply."""


class TypedNameError(CommandError):
    """An error naming the command or subcommand as the client typed it, as Redis's replies
    built from ``argv[0]``/``argv[1]`` do (GEOSEARCH's "exactly one of", the subcommand syntax
    error).  Handlers do not see the typed name, so the message holds ``{argv0}``, ``{ARGV0}``
    (upper-cased) or ``{argv1}`` and the dispatcher fills them in (:meth:`fill`)."""

    def fill(self, argv: list[bytes]) -> CommandError:
        def text(i: int) -> str:
            return argv[i][:128].decode("utf-8", "replace") if len(argv) > i else ""

        msg = self.message.replace("{argv0}", text(0)).replace("{ARGV0}", text(0).upper())
        return CommandError(msg.replace("{argv1}", text(1)))


class WrongTypeError(RedisError):
    prefix = "WRONGTYPE"

    def __init__(self) -> None:
        super().__init__("WRONGTYPE Operation against a key holding the wrong kind of value")


class ProtocolError(RedisError):
    """Malformed input on the wire: Redis replies and then closes the connection."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"ERR Protocol error: {detail}")


class NoAuthError(RedisError):
    def __init__(self, message: str = "NOAUTH Authentication required.") -> None:
        super().__init__(message)


class NoPermError(RedisError):
    def __init__(self, message: str) -> None:
        super().__init__(message if message.startswith("NOPERM") else f"NOPERM {message}")


class OOMError(RedisError):
    def __init__(self) -> None:
        super().__init__("OOM command not allowed when used memory > 'maxmemory'.")


class BusyError(RedisError):
    def __init__(self, message: str) -> None:
        super().__init__(message if message.startswith("BUSY") else f"BUSY {message}")


class NoScriptError(RedisError):
    def __init__(self) -> None:
        super().__init__("NOSCRIPT No matching script. Please use EVAL.")


class ExecAbortError(RedisError):
    def __init__(self) -> None:
        super().__init__("EXECABORT Transaction discarded because of previous errors.")


class ScriptError(RedisError):
    """An error reply a script produced, sent exactly as worded (no ``ERR`` added): Redis
    replies ``-My Err`` to ``return redis.error_reply('My Err')``."""

    def reply_text(self) -> str:
        return self.message


class ScriptCallError(Exception):
    """A failed redis.call (or a redis.* argument error), raised into Lua: its text is the
    error reply the script sees."""


class ClientClosing(Exception):
    """Raised by QUIT/SHUTDOWN-like handlers: reply, then close the connection."""


def wrong_arity(name: str) -> CommandError:
    return CommandError(f"ERR wrong number of arguments for '{name}' command")


def unknown_command(name: bytes, args: list[bytes]) -> CommandError:
    """processCommand's text: arguments printed with ``'%.*s' `` (cut at a NUL byte) until
    128 characters are shown."""
    shown = ""
    for a in args:
        if len(shown) >= 128:
            break
        shown += f"'{_clip(a.split(_NUL, 1)[0], 128 - len(shown))}' "
    cmd = _clip(name.split(_NUL, 1)[0])
    return CommandError(f"ERR unknown command '{cmd}', with args beginning with: {shown}")


_NUL = bytes(1)


def unknown_subcommand(sub: bytes, container: str) -> CommandError:
    return CommandError(f"ERR unknown subcommand '{_clip(sub)}'. Try {container.upper()} HELP.")


def _clip(b: bytes, limit: int = 128) -> str:
    return b[:limit].decode("utf-8", "replace")


SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
NO_SUCH_KEY = "ERR no such key"
OUT_OF_RANGE = "ERR index out of range"
DB_INDEX_OUT_OF_RANGE = "ERR DB index is out of range"
INVALID_EXPIRE = "ERR invalid expire time in '{}' command"
INCR_OVERFLOW = "ERR increment or decrement would overflow"
NAN_OR_INF = "ERR increment would produce NaN or Infinity"
BIT_OFFSET = "ERR bit offset is not an integer or out of range"
BIT_VALUE = "ERR bit is not an integer or out of range"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
NOT_POSITIVE = "ERR value is out of range, must be positive"
SAME_OBJECT = "ERR source and destination objects are the same"

# Scripting (eval.c, script_lua.c, script.c).
BUSY_SCRIPT = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
SCRIPT_KILLED = "ERR Script killed by user with SCRIPT KILL..."
LUA_STACK_LIMIT = "ERR reached lua stack limit"
LUA_NO_ARGS = "ERR Please specify at least one argument for this redis lib call"
LUA_BAD_ARG_TYPE = "ERR Lua redis lib command arguments must be strings or integers"

# Argument parsing shared by many commands (engine/args.py).
VALUE_OUT_OF_RANGE = "ERR value is out of range"
INVALID_CURSOR = "ERR invalid cursor"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"
COUNT_NOT_POSITIVE = "ERR COUNT must be > 0"
NUMKEYS_NOT_POSITIVE = "ERR numkeys should be greater than 0"
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
TIMEOUT_NOT_INTEGER = "ERR timeout is not an integer or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_OUT_OF_RANGE = "ERR timeout is out of range"


def value_not_in_range(lo: int, hi: int) -> str:
    """getRangeLongFromObjectOrReply's text for a number outside [lo, hi]."""
    return f"ERR value is out of range, value must between {lo} and {hi}"


# Clients and connections.
CLIENT_NAME_INVALID = "ERR Client names cannot contain spaces, newlines or special characters."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
NOPERM_COMMAND = "NOPERM this user has no permissions to run the '{}' command"
BGSAVE_IN_PROGRESS = "ERR Background save already in progress"
EXECABORT = "EXECABORT Transaction discarded because of: {}"


def unknown_client_type(name: str) -> str:
    return f"ERR Unknown client type '{name}'"


# Types other than strings: sorted sets, HyperLogLogs, streams, bitfields.
MIN_MAX_NOT_FLOAT = "ERR min or max is not a float"
LEX_RANGE_INVALID = "ERR min or max not valid string range item"
SCORE_NAN = "ERR resulting score is not a number (NaN)"
SORT_NOT_DOUBLE = "ERR One or more scores can't be converted into double"
NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
HLL_CORRUPTED = "INVALIDOBJ Corrupted HLL object detected"
BITFIELD_TYPE = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
STREAM_INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
XADD_SMALLER = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
XADD_ZERO = "ERR The ID specified in XADD must be greater than 0-0"
STREAM_EXHAUSTED = "ERR The stream has exhausted the last possible ID, unable to add more items"
STREAM_BAD_START = "ERR invalid start ID for the interval"
BUSYGROUP = "BUSYGROUP Consumer Group name already exists"


def no_such_group(key: bytes, group: bytes) -> str:
    return (f"NOGROUP No such consumer group '{group.decode('utf-8', 'replace')}' "
            f"for key name '{key.decode('utf-8', 'replace')}'")


# Geo, cluster, functions and scripts.
NEED_NUMERIC_RADIUS = "ERR need numeric radius"
RADIUS_NEGATIVE = "ERR radius cannot be negative"
NO_CLUSTER = "ERR This instance has cluster support disabled"
BAD_PAYLOAD = "ERR payload version or checksum are wrong"
SCRIPT_WRITE_FLAG_RO = "ERR Can not execute a script with write flag using *_ro command."
