// Preloaded (node --require) into server-everything's Streamable HTTP mode by harness.mjs.
//
// That server calls app.listen(PORT), which binds every interface, and has no option for the
// address; tests must stay on loopback. A listen given only a port is moved to 127.0.0.1, and
// the bound address is printed as "listening on 127.0.0.1:PORT" on stderr, so PORT=0 (any free
// port) works without a race over picking one.
'use strict';

const net = require('node:net');

const originalListen = net.Server.prototype.listen;

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  const portOnly =
    typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first));
  if (!portOnly) {
    return originalListen.apply(this, args);
  }
  const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
  this.once('listening', () => {
    const address = this.address();
    process.stderr.write(`listening on ${address.address}:${address.port}\n`);
  });
  return originalListen.call(this, { port: Number(first), host: '127.0.0.1' }, callback);
};
