# SPDX-License-Identifier: MIT
"""What the hrcached benchmarks share: one memcached text request on a new
connection, read up to its closing END."""

import os
import socket
import subprocess
import sys
import time


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


def start(argv, sock, env):
    """Start a server listening on the Unix socket sock; exits the
    benchmark if it dies or the socket is not there within 30 s."""
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not os.path.exists(sock):
        if p.poll() is not None or time.monotonic() > deadline:
            sys.exit("%s did not start" % argv[0])
        time.sleep(0.01)
    return p
