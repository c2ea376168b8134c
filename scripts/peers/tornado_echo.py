"""Tornado peer: tornado.tcpserver.TCPServer, an IOStream per connection, read_bytes
(partial=True) then write, on the asyncio loop.

Usage: python3 tornado_echo.py [PORT]   (PORT 0: any free port)
"""
import asyncio
import sys

from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets
from tornado.tcpserver import TCPServer


class Echo(TCPServer):
    async def handle_stream(self, stream, address):
        stream.set_nodelay(True)
        try:
            while True:
                data = await stream.read_bytes(65536, partial=True)
                await stream.write(data)
        except StreamClosedError:
            pass


async def main(port):
    sockets = bind_sockets(port, "127.0.0.1", backlog=32768)
    Echo().add_sockets(sockets)
    print(f"listening on 127.0.0.1:{sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
