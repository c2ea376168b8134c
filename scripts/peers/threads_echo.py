"""Python threads peer: socketserver's ThreadingTCPServer, a thread per connection, each
on the smallest stack the interpreter allows (32 KiB on Linux).

Usage: python3 threads_echo.py [PORT]   (PORT 0: any free port)
"""
import socket
import socketserver
import sys
import threading

threading.stack_size(32 * 1024)


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        conn = self.request
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 32768


if __name__ == "__main__":
    server = Server(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Echo)
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
