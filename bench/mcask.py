# SPDX-License-Identifier: MIT
"""What the hrcached benchmarks share: one memcached text request on a new
connection, read up to its closing END."""

import socket


def ask(port, request, timeout=5):
    """request (bytes, with its CRLF) to 127.0.0.1:port; the reply up to
    and with END\\r\\n.  OSError when the server refuses, hangs up or goes
    silent (ConnectionRefusedError for a refusal)."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        s.sendall(request)
        buf = b""
        while not buf.endswith(b"END\r\n"):
            d = s.recv(65536)
            if not d:
                raise OSError("closed before END")
            buf += d
        return buf
    finally:
        s.close()
