"""INFO [section ...]: the text comes from engine/info.py's section registry."""

from __future__ import annotations

from engine.client import Client
from engine.info import render
from engine.protocol import Reply, Verbatim
from engine.table import command

__all__ = ["info"]


@command("info", arity=-1, flags="loading stale", acl="@dangerous", group="server",
         summary="Get information and statistics about the server",
         complexity="O(1)")
def info(ctx: Client, *sections: bytes) -> Reply:
    text = render(ctx.server, [s.decode("utf-8", "replace").lower() for s in sections]).encode()
    return Verbatim(text) if ctx.resp == 3 else text
