"""Write data/redis/key-specs-7.0.yaml from a running redis-server 7.0 (COMMAND INFO).

The engine's COMMAND GETKEYSANDFLAGS reads Redis's key specifications (which arguments are keys
and how each key is used: RW/RO/OW/RM plus access/update/insert/delete) from that file instead
of guessing them from the command's flags.  Regenerate with a redis-server of the release the
engine follows:

    .venv/bin/python tests/compat/dump_key_specs.py <port> > data/redis/key-specs-7.0.yaml
"""

from __future__ import annotations

import datetime
import sys
from typing import Any

import redis
import yaml


def _pairs(x: Any) -> dict[str, Any]:
    if isinstance(x, dict):
        return {k.decode() if isinstance(k, bytes) else k: v for k, v in x.items()}
    return {x[i].decode(): x[i + 1] for i in range(0, len(x), 2)}


def _spec(raw: Any) -> dict[str, Any]:
    s = _pairs(raw)
    bs = _pairs(s["begin_search"])
    fk = _pairs(s["find_keys"])
    bspec = _pairs(bs["spec"]) if bs.get("spec") else {}
    fspec = _pairs(fk["spec"]) if fk.get("spec") else {}
    return {
        "flags": [f.decode() for f in s["flags"]],
        "begin_search": {"type": bs["type"].decode(), **{k: (v.decode() if isinstance(v, bytes) else v)
                                                          for k, v in bspec.items()}},
        "find_keys": {"type": fk["type"].decode(), **{k: v for k, v in fspec.items()}},
    }


def main() -> int:
    port = int(sys.argv[1])
    r = redis.Redis(port=port, protocol=2)
    version = r.info("server")["redis_version"]
    conn = r.connection_pool.get_connection()
    conn.send_command("COMMAND")  # raw reply: redis-py's COMMAND callback reshapes it
    raw = conn.read_response()
    out: dict[str, list[dict[str, Any]]] = {}

    def visit(row: list[Any], prefix: str = "") -> None:
        name = (prefix + row[0].decode()).lower()
        specs = row[8] if len(row) > 8 else []
        if specs:
            out[name] = [_spec(s) for s in specs]
        for sub in row[9] if len(row) > 9 else []:
            visit(sub)

    for row in raw:
        visit(row)
    print(f"# Key specifications of every command, from COMMAND on redis-server {version}.")
    print(f"# Source: tests/compat/dump_key_specs.py against /usr/bin/redis-server; date: "
          f"{datetime.date.today().isoformat()}.")
    print(yaml.safe_dump(dict(sorted(out.items())), sort_keys=False, default_flow_style=None, width=120))
    return 0


if __name__ == "__main__":
    sys.exit(main())
