"""Twisted peer: a Protocol echo server on the default (epoll) reactor.

Usage: python3 twisted_echo.py [PORT]   (PORT 0: any free port)
"""
import sys

from twisted.internet import protocol, reactor


class Echo(protocol.Protocol):
    def connectionMade(self):
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.transport.write(data)


class Factory(protocol.Factory):
    protocol = Echo


if __name__ == "__main__":
    port = reactor.listenTCP(int(sys.argv[1]) if len(sys.argv) > 1 else 0, Factory(),
                             backlog=32768, interface="127.0.0.1")
    print(f"listening on 127.0.0.1:{port.getHost().port}", flush=True)
    reactor.run()
