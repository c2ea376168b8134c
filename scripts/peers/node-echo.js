// node.js peer: the `net` module and socket.pipe(socket), as a typical node user writes an
// echo server (pipe handles backpressure). Usage: node node-echo.js [PORT] (0: any port).
'use strict';
const net = require('net');

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
server.listen({ host: '127.0.0.1', port: Number(process.argv[2] || 0), backlog: 32768 }, () => {
  process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
