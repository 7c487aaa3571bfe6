"""TLS: a second listener on ``tls-port`` speaking the same protocol through the ssl module.

Redis (tls.c) serves TLS clients on ``tls-port`` next to the plain ``port``; the certificate and
key come from ``tls-cert-file``/``tls-key-file``, peers are verified against
``tls-ca-cert-file``, and ``tls-auth-clients`` says whether a client certificate is required
(``yes``, Redis's default), accepted when offered (``optional``) or not asked for (``no``).
Clients connect with ``rediss://`` (redis-py: ``ssl_ca_certs``, ``ssl_certfile``,
``ssl_keyfile``).

The listening sockets are bound and listening before :meth:`Server.start` returns (so a client
may connect at once; the kernel queues it), and asyncio starts accepting on them as soon as the
loop runs.
"""

from __future__ import annotations

import logging
import socket
import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["make_context", "start_tls_listeners"]

log = logging.getLogger("engine")

_VERIFY = {"yes": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "no": ssl.CERT_NONE}


def make_context(cert_file: str, key_file: str, ca_file: str = "", auth_clients: str = "yes") -> ssl.SSLContext:
    """The server-side context Redis's tlsConfigure builds (TLS 1.2+, the peer verify mode)."""
    if not cert_file or not key_file:
        raise OSError("Failed to configure TLS: tls-cert-file and tls-key-file must be set with tls-port")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    elif auth_clients != "no":
        raise OSError("Failed to configure TLS: tls-ca-cert-file is needed to authenticate clients")
    ctx.verify_mode = _VERIFY[auth_clients]
    return ctx


def start_tls_listeners(server: Server) -> None:
    """Open ``tls-port`` on every ``bind`` address when it is set."""
    port = server.config["tls-port"]
    if not port:
        return
    from engine.connection import Connection

    cfg = server.config
    ctx = make_context(cfg["tls-cert-file"], cfg["tls-key-file"], cfg["tls-ca-cert-file"], cfg["tls-auth-clients"])
    loop = server.loop
    assert loop is not None
    for host in (h.lstrip("-") for h in cfg["bind"]):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            sock = socket.create_server((host, port), family=family, backlog=cfg["tcp-backlog"])
        except OSError as e:
            if host in ("::1", "::"):
                continue  # no IPv6 here: skipped like the '-' prefixed plain binds
            raise OSError(f"Could not create server TLS listening socket {host}:{port}: {e.strerror}") from e
        sock.setblocking(False)

        async def serve(s: socket.socket = sock) -> None:
            srv = await loop.create_server(lambda: Connection(server), sock=s, ssl=ctx)
            server.listeners.append(srv)

        loop.create_task(serve())
        log.info("Ready to accept connections tls on %s:%d", host, port)
    server.tls_port = port
