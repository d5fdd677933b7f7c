// End to end through the gateway, with the official MCP TypeScript SDK as the client, over mTLS.
//
// Matrix: client transport (Streamable HTTP at /mcp/{upstream}, legacy HTTP+SSE at
// /sse/{upstream}) × upstream (mcp-example-server over stdio and over HTTP, server-everything
// over stdio and over its Streamable HTTP mode). For each: initialize, list tools, call a tool,
// progress before the result, server-to-client requests round-tripping, the transports' GET
// streams going through the certificate-carrying fetch, and a client without a certificate
// failing at the TLS level. Test names start with "[transport → upstream]".
//
// E2E_UPSTREAMS=name,name limits the run to some upstreams; PORTCULLIS_BIN and
// MCP_EXAMPLE_SERVER_BIN name the binaries under test (default: build/bin). See README.md.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

import {
  ALL_UPSTREAMS, makeTlsFetch, startEnvironment, tlsLevelCause, waitUntil, within,
} from './harness.mjs';

// Each SDK operation gets at most this long; the whole file at most BUDGET_MS, after which the
// remaining tests fail at once. Bounds on waits, not assertions on speed.
const OP_MS = 8000;
const BUDGET_MS = Number(process.env.E2E_BUDGET_MS ?? 120000);
const deadline = Date.now() + BUDGET_MS;

function opTimeout(what) {
  const left = deadline - Date.now();
  if (left <= 0) {
    throw new Error(`${what}: the run's time budget (${BUDGET_MS} ms) is used up`);
  }
  return Math.min(OP_MS, left);
}

// Runs an SDK call with a bound, passing the same bound to the SDK as its request timeout.
function op(what, call) {
  const ms = opTimeout(what);
  return within(ms + 500, what, call({ timeout: ms }));
}

const upstreams = (process.env.E2E_UPSTREAMS ?? ALL_UPSTREAMS.join(','))
  .split(',').map((s) => s.trim()).filter(Boolean);

// What each upstream offers, and how to exercise it.
const SERVERS = {
  example: {
    serverName: 'mcp-example-server',
    tools: ['echo', 'add', 'slow_count', 'confirm'],
    echo: { arguments: { message: 'through the portcullis' }, text: 'through the portcullis' },
    progress: { name: 'slow_count', arguments: { n: 3, interval_ms: 20 } },
    elicit: {
      name: 'confirm',
      arguments: { question: 'Raise the portcullis?' },
      expect: (text) => assert.equal(text, 'accept {"confirmed":true}'),
    },
  },
  everything: {
    serverName: 'mcp-servers/everything',
    tools: ['echo', 'trigger-long-running-operation', 'trigger-elicitation-request',
      'trigger-sampling-request'],
    echo: { arguments: { message: 'through the portcullis' }, text: 'Echo: through the portcullis' },
    progress: { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
    elicit: {
      name: 'trigger-elicitation-request',
      arguments: {},
      expect: (text) => {
        assert.match(text, /User provided the requested information/);
        assert.match(text, /- Name: Portcullis E2E/);
      },
    },
    sample: {
      name: 'trigger-sampling-request',
      arguments: { prompt: 'Say hello', maxTokens: 16 },
      expect: (text) => assert.match(text, /sampled through the portcullis/),
    },
  },
};

const TRANSPORTS = {
  'streamable-http': {
    path: (upstream) => `/mcp/${upstream}`,
    make: (url, fetch) => new StreamableHTTPClientTransport(url, { fetch }),
  },
  sse: {
    path: (upstream) => `/sse/${upstream}`,
    make: (url, fetch) => new SSEClientTransport(url, { fetch }),
  },
};

// A client that declares form elicitation and sampling, and answers both; what it was asked is
// kept in `asked`.
function makeClient() {
  const client = new Client({ name: 'portcullis-e2e', version: '1.0.0' },
    { capabilities: { elicitation: { form: {} }, sampling: {} } });
  const asked = { elicitations: [], samplings: [], errors: [] };
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.elicitations.push(request.params);
    const properties = request.params.requestedSchema?.properties ?? {};
    const content = 'confirmed' in properties
      ? { confirmed: true }
      : { name: 'Portcullis E2E', check: true };
    return { action: 'accept', content };
  });
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    asked.samplings.push(request.params);
    return {
      model: 'e2e-stub-model',
      role: 'assistant',
      content: { type: 'text', text: 'sampled through the portcullis' },
      stopReason: 'endTurn',
    };
  });
  client.onerror = (error) => asked.errors.push(error);
  return { client, asked };
}

function texts(result) {
  return (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

let env = null;
let anyFailed = false;

// `it`, remembering failures so the children's logs are printed at the end.
function test(name, fn) {
  it(name, { timeout: OP_MS * 3 }, async (t) => {
    try {
      await fn(t);
    } catch (error) {
      anyFailed = true;
      throw error;
    }
  });
}

before(async () => {
  env = await startEnvironment({ upstreams });
}, { timeout: 60000 });

after(async () => {
  if (!env) {
    return;
  }
  if (anyFailed) {
    process.stderr.write(`\nSome e2e tests failed; files kept in ${env.dir}. Last output:\n` +
      `${env.logs()}\n`);
  }
  await env.stop(anyFailed);
}, { timeout: 30000 });

for (const upstream of upstreams) {
  const server = SERVERS[upstream.split('-')[0]];
  for (const [transportName, transport] of Object.entries(TRANSPORTS)) {
    const combo = `[${transportName} → ${upstream}]`;

    describe(combo, () => {
      let session = null;  // { client, asked, fetch, transport } once initialize succeeded

      const connected = () => {
        if (!session) {
          throw new Error(`${combo} no session: initialize failed`);
        }
        return session;
      };

      after(async () => {
        if (session) {
          await within(OP_MS, `${combo} close`, session.client.close()).catch(() => {});
          await session.fetch.close();
        }
      });

      test(`${combo} initialize`, async () => {
        const fetch = makeTlsFetch(env.pki);
        const { client, asked } = makeClient();
        const clientTransport = transport.make(env.url(transport.path(upstream)), fetch);
        try {
          await op(`${combo} initialize`, (options) => client.connect(clientTransport, options));
        } catch (error) {
          await clientTransport.close().catch(() => {});
          await fetch.close();
          const seen = fetch.requests.map((r) => `${r.method} ${r.url} → ${r.status ?? r.error}`);
          error.message += `\nrequests: ${seen.join('; ')}`;
          throw error;
        }
        session = { client, asked, fetch, transport: clientTransport };
        assert.equal(client.getServerVersion()?.name, server.serverName);
        assert.ok(client.getServerCapabilities()?.tools, 'the server offers tools');
      });

      test(`${combo} tools/list names the expected tools`, async () => {
        const { client } = connected();
        // server-everything adds its capability-dependent tools when notifications/initialized
        // arrives; give that a bounded moment instead of racing it.
        let names = [];
        await waitUntil(opTimeout('tools/list'), `${combo} tools/list`, async () => {
          const listed = await op(`${combo} tools/list`, (options) =>
            client.listTools(undefined, options));
          names = listed.tools.map((tool) => tool.name);
          return server.tools.every((name) => names.includes(name));
        }, 200).catch((error) => {
          error.message += `\nlisted: ${names.join(', ')}`;
          throw error;
        });
      });

      test(`${combo} tools/call echo`, async () => {
        const { client } = connected();
        const result = await op(`${combo} tools/call echo`, (options) =>
          client.callTool({ name: 'echo', arguments: server.echo.arguments }, undefined, options));
        assert.notEqual(result.isError, true, texts(result));
        assert.equal(texts(result), server.echo.text);
      });

      test(`${combo} progress notifications arrive before the result`, async () => {
        const { client } = connected();
        const timeline = [];
        const result = await op(`${combo} ${server.progress.name}`, (options) =>
          client.callTool({ name: server.progress.name, arguments: server.progress.arguments },
            undefined, { ...options, onprogress: (p) => timeline.push(p) }));
        timeline.push('result');
        assert.notEqual(result.isError, true, texts(result));
        assert.ok(timeline.length >= 2, 'at least one notifications/progress before the result');
        assert.equal(timeline.indexOf('result'), timeline.length - 1);
        for (const progress of timeline.slice(0, -1)) {
          assert.equal(typeof progress.progress, 'number');
        }
      });

      test(`${combo} server-to-client elicitation/create round-trips`, async () => {
        const { client, asked } = connected();
        const before = asked.elicitations.length;
        const result = await op(`${combo} ${server.elicit.name}`, (options) =>
          client.callTool({ name: server.elicit.name, arguments: server.elicit.arguments },
            undefined, options));
        assert.equal(asked.elicitations.length, before + 1,
          `the client should have been asked once; the tool said: ${texts(result)}`);
        assert.notEqual(result.isError, true, texts(result));
        server.elicit.expect(texts(result));
      });

      if (server.sample) {
        test(`${combo} server-to-client sampling/createMessage round-trips`, async () => {
          const { client, asked } = connected();
          const before = asked.samplings.length;
          const result = await op(`${combo} ${server.sample.name}`, (options) =>
            client.callTool({ name: server.sample.name, arguments: server.sample.arguments },
              undefined, options));
          assert.equal(asked.samplings.length, before + 1,
            `the client should have been asked once; the tool said: ${texts(result)}`);
          assert.notEqual(result.isError, true, texts(result));
          server.sample.expect(texts(result));
        });
      }

      test(`${combo} GET streams go through the certificate-carrying fetch`, async (t) => {
        const { fetch } = connected();
        // Streamable HTTP opens its GET stream after initialize, in the background; SSE's GET is
        // the event stream itself. The gateway wants a client certificate on every connection,
        // so any HTTP status on a GET proves the certificate went with it.
        const get = await waitUntil(opTimeout('GET'), `${combo} a GET through the fetch`,
          async () => fetch.requests.find((r) => r.method === 'GET' &&
            (r.status !== undefined || r.error !== undefined)));
        assert.equal(get.error, undefined, `GET ${get.url} failed: ${get.error}`);
        t.diagnostic(`GET ${new URL(get.url).pathname} → HTTP ${get.status}`);
        if (transportName === 'sse') {
          assert.equal(get.status, 200, `GET ${get.url}`);
        } else {
          // 405: the upstream offers no GET stream (allowed by the spec); still a TLS success.
          assert.ok([200, 405].includes(get.status), `GET ${get.url} → ${get.status}`);
        }
        const failed = fetch.requests.filter((r) => r.error !== undefined);
        assert.deepEqual(failed.map((r) => `${r.method} ${r.url}: ${r.error}`), []);
      });

      test(`${combo} a client without a certificate fails at the TLS level`, async (t) => {
        const refusals = () => env.auditRecords().filter((r) =>
          r.event === 'tls.handshake_failed' && r.reason === 'NO_CLIENT_CERTIFICATE').length;
        const refusedBefore = refusals();
        const bare = makeTlsFetch({ ca: env.pki.ca });
        const { client } = makeClient();
        const clientTransport = transport.make(env.url(transport.path(upstream)), bare);
        try {
          await assert.rejects(op(`${combo} initialize without a certificate`, (options) =>
            client.connect(clientTransport, options)));
        } finally {
          await clientTransport.close().catch(() => {});
          await bare.close();
        }
        assert.ok(bare.requests.length >= 1, 'the transport tried to connect');
        for (const request of bare.requests) {
          assert.equal(request.status, undefined,
            `${request.method} ${request.url} got HTTP ${request.status}: no TLS failure`);
          assert.ok(tlsLevelCause(request.error),
            `${request.method} ${request.url} failed, but not at the TLS level: ` +
            `${request.error} (cause: ${request.error?.cause})`);
        }
        t.diagnostic(`refused with ${tlsLevelCause(bare.requests[0].error)}`);
        // The gateway saw it the same way: a handshake refused for want of a certificate.
        await waitUntil(opTimeout('audit'), `${combo} tls.handshake_failed NO_CLIENT_CERTIFICATE ` +
          'in the audit log', async () => refusals() > refusedBefore);
      });
    });
  }
}
