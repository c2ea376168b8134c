"""Eventlet peer: a green thread per connection from a pool of 32768, as in the original.

Usage: python3 eventlet_echo.py [PORT]   (PORT 0: any free port)
"""
import socket
import sys

import eventlet


def handle(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
    except OSError:
        pass
    finally:
        conn.close()


if __name__ == "__main__":
    server = eventlet.listen(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0),
                             backlog=32768)
    print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
    pool = eventlet.GreenPool(32768)
    while True:
        conn, _ = server.accept()
        pool.spawn_n(handle, conn)
