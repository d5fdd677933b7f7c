// The e2e harness: a throwaway PKI, the upstream MCP servers, and the gateway in front of them,
// all real processes on 127.0.0.1, plus the TLS plumbing the official SDK's client transports
// need (they have no TLS options of their own: they take a `fetch`).
//
// Every wait is bounded; every child is stopped by stop(), and killed when the Node process
// exits, whatever path a test takes.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { Agent, fetch as undiciFetch } from 'undici';

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.resolve(E2E_DIR, '..', '..');

export const EVERYTHING_ENTRY = path.join(
  E2E_DIR, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');

// The upstreams every run can put behind the gateway, by the name they get in its config.
export const ALL_UPSTREAMS = ['example-stdio', 'example-http', 'everything-stdio', 'everything-http'];

// Bounds on waits for things that normally take milliseconds (not assertions on timing).
const START_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 5000;
// What is kept of a child's output in memory for error messages (the log file has it all).
const LOG_TAIL_BYTES = 64 * 1024;

const ALLOW_ALL_POLICY = {
  rules: [{
    name: 'e2e-allow-all',
    match: [{ issuer: '**' }],
    grant: {
      '*': {
        tools: ['**'], resources: ['**'], prompts: ['**'], methods: ['**'],
        server_requests: ['**'],
      },
    },
  }],
};

// Paths of the binaries under test: from the environment (ctest sets them), else build/bin.
export function binaries() {
  const found = {
    portcullis: process.env.PORTCULLIS_BIN ?? path.join(REPO_DIR, 'build', 'bin', 'portcullis'),
    exampleServer: process.env.MCP_EXAMPLE_SERVER_BIN ??
      path.join(REPO_DIR, 'build', 'bin', 'mcp-example-server'),
  };
  for (const [what, file] of Object.entries(found)) {
    if (!fs.existsSync(file)) {
      throw new Error(`${what} not found at ${file}: build it, or set ` +
        `${what === 'portcullis' ? 'PORTCULLIS_BIN' : 'MCP_EXAMPLE_SERVER_BIN'}`);
    }
  }
  if (!fs.existsSync(EVERYTHING_ENTRY)) {
    throw new Error(`${EVERYTHING_ENTRY} is missing: run \`npm ci --prefix tests/e2e\``);
  }
  return found;
}

// Rejects with `what` timed out after `ms`, unless `promise` settles first.
export async function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Polls `probe` (async, returns a truthy value when done) until it succeeds or `ms` pass.
export async function waitUntil(ms, what, probe, intervalMs = 50) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) {
      return value;
    }
    if (Date.now() >= end) {
      throw new Error(`${what}: not within ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    child.kill('SIGKILL');
  }
});

class ChildProcess {
  constructor(name, command, args, { env, logPath }) {
    this.name = name;
    this.logPath = logPath;
    this.tail = '';
    this.exit = null;
    this.listeners = new Set();
    this.log = fs.openSync(logPath, 'a');
    this.process = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this.process);
    const onData = (chunk) => {
      fs.writeSync(this.log, chunk);
      this.tail = (this.tail + chunk.toString()).slice(-LOG_TAIL_BYTES);
      for (const listener of this.listeners) {
        listener();
      }
    };
    this.process.stdout.on('data', onData);
    this.process.stderr.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        running.delete(this.process);
        this.exit = { code, signal };
        for (const listener of this.listeners) {
          listener();
        }
        resolve(this.exit);
      });
      this.process.on('error', (error) => {
        running.delete(this.process);
        this.exit = { code: null, signal: null, error };
        for (const listener of this.listeners) {
          listener();
        }
        resolve(this.exit);
      });
    });
  }

  // Resolves with the match of `regex` in the output; rejects if the process exits first or
  // nothing matches within `ms`.
  waitFor(regex, ms = START_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = this.tail.match(regex);
        if (match) {
          done();
          resolve(match);
        } else if (this.exit) {
          done();
          reject(new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before printing ` +
            `${regex}; output:\n${this.tail}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not print ${regex} within ${ms} ms; output:\n` +
          this.tail));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  // SIGTERM, then SIGKILL if it is still there after STOP_TIMEOUT_MS.
  async stop() {
    if (!this.exit) {
      this.process.kill('SIGTERM');
      const stopped = await Promise.race([
        this.exited,
        new Promise((resolve) => setTimeout(() => resolve(null), STOP_TIMEOUT_MS)),
      ]);
      if (!stopped) {
        this.process.kill('SIGKILL');
        await Promise.race([
          this.exited,
          new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS)),
        ]);
      }
    }
    fs.closeSync(this.log);
  }
}

const LISTENING = /listening on 127\.0\.0\.1:(\d+)/;

// ---------------------------------------------------------------------------------------------
// The environment: PKI, upstreams, gateway

// Starts the PKI, the upstreams named in `upstreams` (see ALL_UPSTREAMS) and the gateway.
// Returns { dir, port, pki: {ca, cert, key} (Buffers), url(path), auditRecords(), logs(),
// stop(keepDir) }.
export async function startEnvironment({ upstreams = ALL_UPSTREAMS } = {}) {
  const bin = binaries();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-e2e-'));
  const children = [];
  const stop = async (keepDir = false) => {
    // The gateway first, so it never sees its upstreams vanish under live sessions.
    for (const child of children.reverse()) {
      await child.stop();
    }
    children.length = 0;
    if (!keepDir) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await promisify(execFile)(bin.portcullis, ['pki', 'init', '--out', path.join(dir, 'pki')],
      { timeout: START_TIMEOUT_MS });
    const pki = {
      ca: fs.readFileSync(path.join(dir, 'pki', 'ca.crt')),
      cert: fs.readFileSync(path.join(dir, 'pki', 'client.crt')),
      key: fs.readFileSync(path.join(dir, 'pki', 'client.key')),
    };

    const config = {};
    for (const name of upstreams) {
      switch (name) {
        case 'example-stdio':
          config[name] = { command: [bin.exampleServer] };
          break;
        case 'everything-stdio':
          config[name] = { command: [process.execPath, EVERYTHING_ENTRY, 'stdio'] };
          break;
        case 'example-http': {
          const child = new ChildProcess(name, bin.exampleServer, ['--http', '127.0.0.1:0'],
            { env: process.env, logPath: path.join(dir, `${name}.log`) });
          children.push(child);
          const [, port] = await child.waitFor(LISTENING);
          config[name] = { url: `http://127.0.0.1:${port}/mcp` };
          break;
        }
        case 'everything-http': {
          const child = new ChildProcess(name, process.execPath,
            ['--require', path.join(E2E_DIR, 'loopback.cjs'), EVERYTHING_ENTRY, 'streamableHttp'],
            { env: { ...process.env, PORT: '0' }, logPath: path.join(dir, `${name}.log`) });
          children.push(child);
          const [, port] = await child.waitFor(LISTENING);
          config[name] = { url: `http://127.0.0.1:${port}/mcp` };
          break;
        }
        default:
          throw new Error(`unknown upstream "${name}" (known: ${ALL_UPSTREAMS.join(', ')})`);
      }
    }

    fs.writeFileSync(path.join(dir, 'policy.json'), JSON.stringify(ALLOW_ALL_POLICY, null, 2));
    const gatewayConfig = {
      listen: ['127.0.0.1:0'],
      reactors: 2,
      tls: {
        cert: 'pki/server.crt',
        key: 'pki/server.key',
        client_ca: ['pki/ca.crt'],
      },
      upstreams: config,
      policy: 'policy.json',
      audit: { path: 'audit.jsonl' },
    };
    const configPath = path.join(dir, 'gateway.json');
    fs.writeFileSync(configPath, JSON.stringify(gatewayConfig, null, 2));
    const gateway = new ChildProcess('portcullis', bin.portcullis,
      ['run', '--config', configPath],
      { env: process.env, logPath: path.join(dir, 'gateway.log') });
    children.push(gateway);
    const [, port] = await gateway.waitFor(LISTENING);

    return {
      dir,
      port: Number(port),
      pki,
      url: (urlPath) => new URL(urlPath, `https://127.0.0.1:${port}`),
      // The gateway's audit records so far (complete lines only).
      auditRecords: () => {
        let text = '';
        try {
          text = fs.readFileSync(path.join(dir, 'audit.jsonl'), 'utf8');
        } catch {
          return [];
        }
        return text.split('\n').slice(0, -1).flatMap((line) => {
          try {
            return [JSON.parse(line)];
          } catch {
            return [];
          }
        });
      },
      // The last output of every child, for failure reports.
      logs: () => children.map((c) => `--- ${c.name} (${c.logPath})\n${c.tail.slice(-4000)}`)
        .join('\n'),
      stop,
    };
  } catch (error) {
    await stop(true);
    error.message += `\n(test files kept in ${dir})`;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// TLS for the SDK's transports

// A fetch for the SDK's transports that goes through an undici Agent carrying `tls`
// ({ca, cert, key}; leave cert and key out for a client without a certificate). Every request
// is recorded in fetch.requests as {method, url, status} or {method, url, error}, so tests can
// see that the transports' GET streams went through it (and so carried the certificate).
// fetch.close() ends the agent's connections.
export function makeTlsFetch(tls) {
  const agent = new Agent({ connect: { ...tls, rejectUnauthorized: true } });
  const requests = [];
  const tlsFetch = async (url, init = {}) => {
    const entry = { method: String(init.method ?? 'GET').toUpperCase(), url: String(url) };
    requests.push(entry);
    try {
      const response = await undiciFetch(url, { ...init, dispatcher: agent });
      entry.status = response.status;
      return response;
    } catch (error) {
      entry.error = error;
      throw error;
    }
  };
  tlsFetch.requests = requests;
  tlsFetch.close = () => agent.destroy().catch(() => {});
  return tlsFetch;
}

// The TLS- or socket-level cause of a failed fetch, as "CODE: message", or null when the chain
// of causes holds none (e.g. an HTTP-level failure).
export function tlsLevelCause(error) {
  const transport = /^(ERR_SSL_|ERR_TLS_|ECONNRESET$|EPIPE$|ECONNABORTED$|UND_ERR_SOCKET$)/;
  for (let e = error, depth = 0; e && depth < 8; e = e.cause, depth += 1) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (transport.test(code) || /ssl|tls|alert|certificate|socket hang up|other side closed/i
      .test(String(e.message ?? ''))) {
      return `${code || e.name}: ${e.message}`;
    }
  }
  return null;
}
