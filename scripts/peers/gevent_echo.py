"""gevent peer: gevent.server.StreamServer, a greenlet per connection, as in gevent's
echoserver example.

Usage: python3 gevent_echo.py [PORT]   (PORT 0: any free port)
"""
import socket
import sys

from gevent.server import StreamServer


def handle(conn, address):
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
    server = StreamServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), handle,
                          backlog=32768)
    server.start()
    print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
