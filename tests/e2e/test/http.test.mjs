//  Raw HTTP cases the SDK cannot send: malformed and oversized bodies, slow readers,
//  wrong methods and paths, keep-alive reuse, /v1/models, /healthz and /readyz.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { KEY, USER, client, lorem } from '../lib/fixtures.mjs';
import { makeConfig, request, sleep, sseData, startMock, startStack, stopAll } from '../lib/stack.mjs';

const OTHER_KEY = 'sk-e2e-other-key';
let mock, stack, config;

before(async () => {
  mock = await startMock();
  config = makeConfig({
    mock,
    channels: [{ name: 'mock-a' }],
    groups: [
      { name: 'g1', channels: ['mock-a'], models: ['mock-chat', 'model-x'] },
      { name: 'g2', channels: ['mock-a'], models: ['model-y'] },
      { name: 'g3', channels: ['mock-a'], models: ['model-z', 'mock-chat'] },
    ],
    keys: [
      { name: 'e2e', key: KEY, model_groups: ['g1', 'g3'] },
      { name: 'other', key: OTHER_KEY, model_groups: ['g2'] },
    ],
  });
  stack = await startStack(config);
});

after(() => stopAll(stack, mock));

const AUTH = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

function post(body, headers = {}, opts = {}) {
  return request(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { ...AUTH, ...headers }, body, ...opts });
}

//  Writes `text` on a fresh TCP connection and collects what comes back until the server
//  closes or `waitMs` passes. Resolves {data, closed, ms}.
function rawExchange(port, text, waitMs = 3000) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ data, closed: false, ms: Date.now() - t0 });
    }, waitMs);
    sock.on('data', (d) => (data += d));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ data, closed: true, ms: Date.now() - t0 });
    });
    sock.write(text);
  });
}

//  One TCP connection for several exchanges: `send` writes; `read` resolves with the
//  bytes that arrived since the last read once `done(data)` holds, the server closes,
//  or `waitMs` passes.
function rawConnection(port) {
  const sock = net.connect(port, '127.0.0.1');
  let data = '';
  let closed = false;
  let wake = () => {};
  sock.on('data', (d) => {
    data += d;
    wake();
  });
  sock.on('error', () => {});
  sock.on('close', () => {
    closed = true;
    wake();
  });
  return {
    send: (text) => sock.write(text),
    async read(done, waitMs = 2000) {
      const t0 = Date.now();
      while (!done(data) && !closed && Date.now() - t0 < waitMs) {
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.max(1, Math.min(50, waitMs - (Date.now() - t0))));
        });
      }
      const got = data;
      data = '';
      return { data: got, closed };
    },
    close: () => sock.destroy(),
  };
}

function assertErrorBody(res, status) {
  assert.equal(res.status, status, res.body);
  assert.match(res.headers['content-type'], /^application\/json/);
  assert.ok(res.headers['x-request-id'], 'x-request-id');
  assert.equal(typeof res.json?.error?.message, 'string', res.body);
  assert.ok('type' in res.json.error && 'code' in res.json.error, res.body);
}

async function normalRequestWorks() {
  const res = await post({ model: 'mock-chat', messages: USER, mock: { chunks: 3 } });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.json.choices[0].message.content, lorem(3));
}

describe('malformed requests', () => {
  test('malformed JSON → 400 saying where', async () => {
    const res = await post('{"model": "mock-chat", "messages": [}');
    assertErrorBody(res, 400);
    assert.match(res.json.error.message, /JSON/);
    assert.match(res.json.error.message, /byte \d+/);
    assert.equal(res.json.error.code, 'invalid_json');
  });

  test('empty body (Content-Length: 0) → 400', async () => {
    assertErrorBody(await post(''), 400);
  });

  test('a JSON array instead of an object → 400', async () => {
    assertErrorBody(await post('[{"model":"mock-chat"}]'), 400);
  });

  test('messages not an array → 400', async () => {
    const res = await post({ model: 'mock-chat', messages: 'hello' });
    assertErrorBody(res, 400);
    assert.match(res.json.error.message, /messages/);
  });

  test('20 MB body → 413, and the gateway keeps serving (same connection too)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: 'x'.repeat(20 * 1024 * 1024) }] });
      const before = (await mock.stats()).requests;
      const res = await new Promise((resolve, reject) => {
        const req = http.request(`${stack.url}/v1/chat/completions`, { method: 'POST', agent, headers: { ...AUTH, 'content-length': Buffer.byteLength(big) } }, (r) => {
          let text = '';
          r.on('data', (c) => (text += c));
          r.on('end', () => resolve({ status: r.statusCode, headers: r.headers, body: text, json: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end(big);
      });
      assertErrorBody(res, 413);
      assert.match(res.json.error.message, /10485760/);
      assert.equal((await mock.stats()).requests, before, 'nothing went upstream');
      await normalRequestWorks();
      //  The connection that carried the 413 can carry the next request (if kept).
      const again = await new Promise((resolve, reject) => {
        const req = http.request(`${stack.url}/healthz`, { agent }, (r) => {
          r.resume();
          r.on('end', () => resolve(r.statusCode));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(again, 200);
    } finally {
      agent.destroy();
    }
  });

  test('SB_MAX_BODY_BYTES is exact: a body of the limit passes, one byte more is 413', async () => {
    const s = await startStack(config, { ingressEnv: { SB_MAX_BODY_BYTES: '2000' } });
    try {
      const sized = (n) => {
        const base = JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: '' }], mock: { chunks: 1 } });
        const body = JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: 'x'.repeat(n - base.length) }], mock: { chunks: 1 } });
        assert.equal(Buffer.byteLength(body), n);
        return body;
      };
      const ok = await request(`${s.url}/v1/chat/completions`, { method: 'POST', headers: AUTH, body: sized(2000) });
      assert.equal(ok.status, 200, ok.body);
      const over = await request(`${s.url}/v1/chat/completions`, { method: 'POST', headers: AUTH, body: sized(2001) });
      assertErrorBody(over, 413);
      assert.match(over.json.error.message, /2000/);
    } finally {
      await s.stop();
    }
  });

  test('a declared 200 MB body → 413 at once, connection closed, nothing read', async () => {
    const { data, closed, ms } = await rawExchange(
      stack.httpPort,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 209715200\r\n\r\n{"model"`,
    );
    assert.match(data, /^HTTP\/1\.1 413 /);
    assert.match(data, /request_too_large/);
    assert.ok(closed, 'the server closed the connection');
    assert.ok(ms < 2500, `took ${ms} ms`);
    await normalRequestWorks();
  });

  test('a 20 KB request header does not take the ingress down', async () => {
    const { data } = await rawExchange(stack.httpPort, `GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, 2000);
    assert.ok(!/^HTTP\/1\.1 200/.test(data), 'not served as if fine');
    assert.equal(stack.ingress.exited, null, `ingress died: ${stack.ingress.tail(5)}`);
    await normalRequestWorks();
  });

  //  A raw 431: status line, headers, OpenAI-style body; the connection closed after it.
  function assert431(data, closed, limit = 8192) {
    assert.match(data, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/, JSON.stringify(data.slice(0, 200)));
    assert.ok(closed, 'the server closed the connection');
    const end = data.indexOf('\r\n\r\n');
    const head = data.slice(0, end);
    const body = data.slice(end + 4);
    assert.match(head, /\r\ncontent-type: application\/json\r\n/i);
    assert.match(head, /\r\nconnection: close(\r\n|$)/i);
    assert.match(head, /\r\nx-request-id: req_[0-9a-f]{24}(\r\n|$)/i);
    assert.equal(Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]), Buffer.byteLength(body));
    const json = JSON.parse(body);
    assert.equal(json.error.type, 'invalid_request_error');
    assert.equal(json.error.code, 'headers_too_large');
    assert.match(json.error.message, new RegExp(`limit is ${limit} bytes`));
  }

  test('a 20 KB request header → 431', async () => {
    const { data, closed } = await rawExchange(stack.httpPort, `GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, 2000);
    assert431(data, closed);
    await normalRequestWorks();
  });

  //  Up to what the socket buffers take at once: lws 4.1 closes without draining what
  //  is still on its way, so a client still writing (MBs) may get a reset instead.
  test('431 for any header past the limit: a client\'s, a 100 KB one, a long URL, too many lines', async () => {
    const res = await request(`${stack.url}/v1/models`, { headers: { ...AUTH, 'x-request-id': 'rid-big', cookie: 'c'.repeat(20000) } });
    assertErrorBody(res, 431);
    assert.equal(res.json.error.code, 'headers_too_large');
    assert.equal(res.headers.connection, 'close');
    for (const text of [
      `POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${KEY}\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\nContent-Length: 2\r\n\r\n{}`,
      `GET /healthz?${'q'.repeat(20000)} HTTP/1.1\r\nHost: t\r\n\r\n`,
      `GET /healthz HTTP/1.1\r\nHost: t\r\n${'Accept: x\r\n'.repeat(200)}\r\n`,
    ]) {
      const { data, closed } = await rawExchange(stack.httpPort, text, 3000);
      assert431(data, closed);
    }
    assert.equal(stack.ingress.exited, null, `ingress died: ${stack.ingress.tail(5)}`);
    await normalRequestWorks();
  });

  test('431 on a keep-alive connection after a good request; a half-sent request elsewhere is untouched', async () => {
    //  Another client is in the middle of its headers while the 431 goes out.
    const other = rawConnection(stack.httpPort);
    const c = rawConnection(stack.httpPort);
    try {
      other.send('GET /healthz HTTP/1.1\r\nHost: t\r\n');
      c.send('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
      const ok = await c.read((d) => d.endsWith('{"status":"ok"}'));
      assert.match(ok.data, /^HTTP\/1\.1 200 /);
      c.send(`GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
      const big = await c.read(() => false, 3000);
      assert431(big.data, big.closed);
      const quiet = await other.read(() => false, 200);
      assert.equal(quiet.data, '', 'nothing was sent to the other connection');
      assert.equal(quiet.closed, false);
      other.send('Connection: close\r\n\r\n');
      const done = await other.read(() => false, 3000);
      assert.match(done.data, /^HTTP\/1\.1 200 /);
      assert.ok(done.data.endsWith('{"status":"ok"}'));
    } finally {
      c.close();
      other.close();
    }
  });

  test('SB_MAX_HEADER_BYTES sets the limit: under it 200, over it 431 naming it', async () => {
    const s = await startStack(config, { ingressEnv: { SB_MAX_HEADER_BYTES: '2048' } });
    try {
      const under = await request(`${s.url}/healthz`, { headers: { 'x-pad': 'a'.repeat(1500) } });
      assert.equal(under.status, 200, under.body);
      const over = await rawExchange(s.httpPort, `GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: ${'a'.repeat(2500)}\r\n\r\n`);
      assert431(over.data, over.closed, 2048);
    } finally {
      await s.stop();
    }
  });

  test('chunked request body → answered at once (processed, or 411)', async () => {
    const body = JSON.stringify({ model: 'mock-chat', messages: USER });
    const { data, ms } = await rawExchange(
      stack.httpPort,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      2000,
    );
    assert.match(data, /^HTTP\/1\.1 (200|411) /, `after ${ms} ms: ${JSON.stringify(data.slice(0, 200))}`);
  });

  test('POST without Content-Length or body → answered at once (400/411)', async () => {
    const { data, ms } = await rawExchange(
      stack.httpPort,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${KEY}\r\n\r\n`,
      2000,
    );
    assert.match(data, /^HTTP\/1\.1 4(00|11) /, `after ${ms} ms: ${JSON.stringify(data.slice(0, 200))}`);
  });
});

describe('slow readers', () => {
  //  About 3.9 MB of SSE: 10000 chunks of a 1 MiB text.
  const content = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(29128).slice(0, 1024 * 1024);
  const chunks = 10000;

  function pausedStream(url, pauseMs) {
    const body = JSON.stringify({ model: 'mock-chat', stream: true, messages: USER, mock: { content, chunks } });
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${url}/v1/chat/completions`,
        { method: 'POST', agent: false, headers: { ...AUTH, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const parts = [];
          res.pause(); // node stops reading the socket once its small buffer is full
          setTimeout(() => {
            res.on('data', (c) => parts.push(c));
            res.resume();
          }, pauseMs);
          res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString(), aborted: false }));
          res.on('aborted', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString(), aborted: true }));
          res.on('error', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString(), aborted: true }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  test('a client that stops reading for 3 s gets the whole stream, in order; others are served meanwhile', async () => {
    const slow = pausedStream(stack.url, 3000);
    const openai = client(stack);
    const latencies = [];
    for (let i = 0; i < 5; i++) {
      await sleep(400);
      const t0 = Date.now();
      const r = await openai.chat.completions.create({ model: 'mock-chat', messages: USER, mock: { chunks: 2 } });
      latencies.push(Date.now() - t0);
      assert.equal(r.choices[0].message.content, 'Lorem ipsum');
    }
    assert.ok(Math.max(...latencies) < 1500, `other requests took ${latencies} ms`);
    const { status, text, aborted } = await slow;
    assert.equal(status, 200);
    assert.equal(aborted, false);
    const events = sseData(text);
    assert.equal(events.length, chunks + 3, 'role chunk + pieces + finish chunk + [DONE]');
    assert.equal(events.at(-1), '[DONE]');
    let got = '';
    for (const e of events.slice(0, -1)) got += JSON.parse(e).choices[0].delta.content ?? '';
    assert.equal(got.length, content.length);
    assert.ok(got === content, 'content arrived complete and in order');
  });

  test('a client that never reads is dropped at SB_MAX_CLIENT_BUFFER, the provider call cancelled', async () => {
    const small = await startStack(config, { ingressEnv: { SB_MAX_CLIENT_BUFFER: '65536' } });
    try {
      await mock.waitStats((s) => s.active === 0);
      const before = await mock.stats();
      //  The stream lasts ~10 s at the provider (gap 1 ms), far more than the buffers hold.
      const body = JSON.stringify({ model: 'mock-chat', stream: true, messages: USER, mock: { content, chunks, gap_ms: 1 } });
      const sock = net.connect(small.httpPort, '127.0.0.1');
      sock.on('error', () => {});
      const closed = new Promise((resolve) => sock.on('close', resolve));
      sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      sock.pause(); // and never read
      const stats = await mock.waitStats((s) => s.cancelled > before.cancelled && s.active === 0, 15000);
      assert.equal(stats.completed, before.completed, 'the provider did not finish');
      sock.destroy();
      await closed;
      const r = await client(small).chat.completions.create({ model: 'mock-chat', messages: USER, mock: { chunks: 1 } });
      assert.equal(r.choices[0].message.content, 'Lorem');
    } finally {
      await small.stop();
    }
  });
});

describe('SSE keep-alive', () => {
  test('an idle stream gets ": ping" comments; the SDK ignores them', async () => {
    const s = await startStack(config, { ingressEnv: { SB_SSE_PING_MS: '200' } });
    try {
      const res = await request(`${s.url}/v1/chat/completions`, {
        method: 'POST',
        headers: AUTH,
        body: { model: 'mock-chat', messages: USER, stream: true, mock: { chunks: 3, gap_ms: 900 } },
      });
      assert.equal(res.status, 200);
      const pings = res.body.split('\n').filter((l) => l.startsWith(': ping')).length;
      assert.ok(pings >= 3, `${pings} pings in ${res.body.length} bytes`);
      assert.equal(sseData(res.body).at(-1), '[DONE]');
      const stream = await client(s).chat.completions.create({ model: 'mock-chat', messages: USER, stream: true, mock: { chunks: 3, gap_ms: 500 } });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      assert.equal(text, lorem(3));
    } finally {
      await s.stop();
    }
  });
});

describe('methods and paths', () => {
  test('GET /v1/chat/completions → 405', async () => {
    const res = await request(`${stack.url}/v1/chat/completions`, { headers: AUTH });
    assertErrorBody(res, 405);
  });

  test('PUT /v1/chat/completions → 405', async () => {
    assertErrorBody(await request(`${stack.url}/v1/chat/completions`, { method: 'PUT', headers: AUTH, body: '{}' }), 405);
  });

  test('405 names the allowed method (Allow: POST)', async () => {
    const res = await request(`${stack.url}/v1/chat/completions`, { headers: AUTH });
    assert.equal(res.headers.allow, 'POST');
  });

  test('unknown path → 404 naming it', async () => {
    const res = await request(`${stack.url}/v1/nothing-here`, { headers: AUTH });
    assertErrorBody(res, 404);
    assert.match(res.json.error.message, /\/v1\/nothing-here/);
  });

  test('POST to an unknown path → 404, connection closed (its body is not read)', async () => {
    const res = await request(`${stack.url}/v1/embeddings`, { method: 'POST', headers: AUTH, body: { model: 'x', input: 'y' } });
    assertErrorBody(res, 404);
    assert.equal(res.headers.connection, 'close');
    await normalRequestWorks();
  });

  test('HEAD /healthz → 200 without a body', async () => {
    const res = await request(`${stack.url}/healthz`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.equal(res.headers['content-length'], String('{"status":"ok"}'.length), 'the length a GET gets');
    assert.ok(res.headers['x-request-id'], 'x-request-id');
  });

  test('HEAD gets the status and headers of GET and never a body (routes and errors)', async () => {
    const cases = [
      ['/healthz', {}, 200],
      ['/readyz', {}, 200],
      ['/v1/models', AUTH, 200],
      ['/models', AUTH, 200],
      ['/v1/models', {}, 401],
      ['/v1/nothing-here', AUTH, 404],
      ['/v1/chat/completions', AUTH, 405],
    ];
    for (const [path, headers, status] of cases) {
      const get = await request(`${stack.url}${path}`, { headers });
      assert.equal(get.status, status, `GET ${path}`);
      //  Raw, with Connection: close, so every byte the ingress sends is seen.
      const auth = headers.authorization ? `Authorization: ${headers.authorization}\r\n` : '';
      const { data, closed } = await rawExchange(stack.httpPort, `HEAD ${path} HTTP/1.1\r\nHost: t\r\n${auth}Connection: close\r\n\r\n`);
      assert.ok(closed, `HEAD ${path}: the connection closed`);
      assert.match(data, new RegExp(`^HTTP/1\\.1 ${status} `), `HEAD ${path}: ${JSON.stringify(data.slice(0, 200))}`);
      const end = data.indexOf('\r\n\r\n');
      assert.ok(end > 0, `HEAD ${path}: a complete header block`);
      assert.equal(data.slice(end + 4), '', `HEAD ${path}: no body after the headers`);
      assert.match(data, /\r\nx-request-id: \S+/i, `HEAD ${path}: x-request-id`);
      const length = /\r\ncontent-length: *(\d+)\r\n/i.exec(data)?.[1];
      assert.ok(Number(length) > 0, `HEAD ${path}: content-length ${length}`);
      //  A route's answer is the GET's, length included (an error message names the method).
      if (status === 200) assert.equal(Number(length), Buffer.byteLength(get.body), `HEAD ${path}: the GET's length`);
      if (status === 405) assert.match(data, /\r\nallow: POST\r\n/i);
    }
  });

  test('after HEAD a keep-alive connection carries the next request (no stray body bytes)', async () => {
    const c = rawConnection(stack.httpPort);
    try {
      for (const path of ['/healthz', '/v1/nothing-here']) {
        c.send(`HEAD ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
        const head = await c.read((d) => d.includes('\r\n\r\n'));
        assert.match(head.data, /^HTTP\/1\.1 (200|404) /, `HEAD ${path}: ${JSON.stringify(head.data.slice(0, 200))}`);
        assert.ok(head.data.endsWith('\r\n\r\n'), `HEAD ${path}: nothing after the headers`);
        assert.equal(head.closed, false, `HEAD ${path}: the connection stays open`);
        const extra = await c.read(() => false, 300);
        assert.equal(extra.data, '', `HEAD ${path}: no bytes follow`);
      }
      c.send('GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
      const get = await c.read(() => false, 3000);
      assert.ok(get.closed, 'closed after the GET');
      assert.match(get.data, /^HTTP\/1\.1 200 /);
      assert.ok(get.data.endsWith('\r\n\r\n{"status":"ok"}'), JSON.stringify(get.data));
    } finally {
      c.close();
    }
  });

  test('every answer carries x-request-id; a client\'s own is echoed, streams included', async () => {
    for (const [path, method] of [['/healthz', 'GET'], ['/readyz', 'GET'], ['/v1/models', 'GET'], ['/nope', 'GET'], ['/v1/chat/completions', 'GET']]) {
      const res = await request(`${stack.url}${path}`, { method, headers: { ...AUTH, 'x-request-id': `rid-${path}` } });
      assert.equal(res.headers['x-request-id'], `rid-${path}`, `${method} ${path}`);
    }
    const s = await post({ model: 'mock-chat', messages: USER, stream: true, mock: { chunks: 1 } }, { 'x-request-id': 'rid-stream' });
    assert.equal(s.headers['x-request-id'], 'rid-stream');
    const e = await post('{oops', { 'x-request-id': 'rid-400' });
    assert.equal(e.headers['x-request-id'], 'rid-400');
    //  Not safe to echo: spaces, or longer than 64 characters; a fresh one instead.
    for (const bad of ['has spaces', 'x'.repeat(65)]) {
      const r = await request(`${stack.url}/healthz`, { headers: { 'x-request-id': bad } });
      assert.ok(r.headers['x-request-id'] && r.headers['x-request-id'] !== bad);
    }
  });

  test('HTTP/1.0 stream: no chunked encoding (HTTP/1.1 only), the body ends with the connection', async () => {
    const body = JSON.stringify({ model: 'mock-chat', stream: true, messages: USER, mock: { chunks: 2 } });
    const { data, closed } = await rawExchange(
      stack.httpPort,
      `POST /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    assert.ok(closed);
    assert.match(data, /^HTTP\/1\.[01] 200 /);
    assert.doesNotMatch(data, /transfer-encoding: chunked/i);
    assert.match(data, /\r\n\r\ndata: /);
    //  The body is the SSE text as it is: no chunk-size lines, no last chunk, and every
    //  event there, to [DONE]; the headers say the close ends it.
    const [head, sse] = [data.slice(0, data.indexOf('\r\n\r\n')), data.slice(data.indexOf('\r\n\r\n') + 4)];
    assert.match(head, /\r\nconnection: close(\r\n|$)/i);
    assert.match(head, /\r\ncontent-type: text\/event-stream/i);
    assert.doesNotMatch(head, /\r\ncontent-length:/i);
    assert.doesNotMatch(sse, /(^|\r\n)[0-9a-f]+\r\n/, 'no chunk framing');
    assert.ok(sse.endsWith('data: [DONE]\n\n'), JSON.stringify(sse.slice(-40)));
    const events = sseData(sse);
    assert.equal(events.at(-1), '[DONE]');
    let text = '';
    for (const e of events.slice(0, -1)) text += JSON.parse(e).choices[0].delta.content ?? '';
    assert.equal(text, lorem(2));
  });

  test('HTTP/1.1 stream (same request, raw): chunked, last chunk, connection kept', async () => {
    const body = JSON.stringify({ model: 'mock-chat', stream: true, messages: USER, mock: { chunks: 2 } });
    const c = rawConnection(stack.httpPort);
    try {
      c.send(`POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      const { data, closed } = await c.read((d) => d.endsWith('\r\n0\r\n\r\n'), 5000);
      assert.equal(closed, false, 'the connection stays open');
      assert.match(data, /^HTTP\/1\.1 200 /);
      assert.match(data, /\r\ntransfer-encoding: chunked\r\n/i);
      assert.doesNotMatch(data, /\r\nconnection: close\r\n/i);
      assert.ok(data.endsWith('data: [DONE]\n\n\r\n0\r\n\r\n'), JSON.stringify(data.slice(-60)));
    } finally {
      c.close();
    }
  });

  test('HTTP/1.0 JSON answer: Content-Length, then the connection closes', async () => {
    const body = JSON.stringify({ model: 'mock-chat', messages: USER, mock: { chunks: 2 } });
    const { data, closed } = await rawExchange(
      stack.httpPort,
      `POST /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    assert.ok(closed);
    assert.match(data, /^HTTP\/1\.[01] 200 /);
    const end = data.indexOf('\r\n\r\n');
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(data.slice(0, end))?.[1]);
    assert.equal(Buffer.byteLength(data.slice(end + 4)), length);
    assert.equal(JSON.parse(data.slice(end + 4)).choices[0].message.content, lorem(2));
  });

  test('GET /healthz → 200 {"status":"ok"}', async () => {
    const res = await request(`${stack.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'ok' });
  });

  test('GET /readyz → 200 with config and router up', async () => {
    const res = await request(`${stack.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'ready', config: true, router: true });
  });

  test('one keep-alive connection carries JSON, stream, errors and JSON again', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set();
    const one = (path, method, body) =>
      new Promise((resolve, reject) => {
        const req = http.request(`${stack.url}${path}`, { method, agent, headers: AUTH }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode, text }));
        });
        req.on('socket', (s) => sockets.add(s));
        req.on('error', reject);
        req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
      });
    try {
      const seq = [
        ['/v1/chat/completions', 'POST', { model: 'mock-chat', messages: USER, mock: { chunks: 2 } }, 200],
        ['/v1/chat/completions', 'POST', { model: 'mock-chat', messages: USER, stream: true, mock: { chunks: 3 } }, 200],
        ['/v1/chat/completions', 'POST', '{bad json', 400],
        ['/v1/chat/completions', 'POST', { model: 'nope', messages: USER }, 404],
        ['/v1/chat/completions', 'GET', undefined, 405],
        ['/v1/models', 'GET', undefined, 200],
        ['/v1/chat/completions', 'POST', { model: 'mock-chat', messages: USER, mock: { chunks: 1 } }, 200],
      ];
      const results = [];
      for (const [path, method, body, want] of seq) {
        const r = await one(path, method, body);
        assert.equal(r.status, want, `${method} ${path}: ${r.text.slice(0, 200)}`);
        results.push(r);
      }
      assert.equal(JSON.parse(results[0].text).choices[0].message.content, 'Lorem ipsum');
      assert.equal(sseData(results[1].text).at(-1), '[DONE]');
      assert.equal(JSON.parse(results[6].text).choices[0].message.content, 'Lorem');
      assert.equal(sockets.size, 1, 'every request went over one connection');
    } finally {
      agent.destroy();
    }
  });
});

describe('/v1/models', () => {
  test('lists the key\'s groups and their models, each once', async () => {
    const res = await request(`${stack.url}/v1/models`, { headers: AUTH });
    assert.equal(res.status, 200);
    assert.equal(res.json.object, 'list');
    const ids = res.json.data.map((m) => m.id);
    assert.deepEqual([...ids].sort(), ['g1', 'g3', 'mock-chat', 'model-x', 'model-z'].sort());
    assert.ok(res.json.data.every((m) => m.object === 'model' && typeof m.owned_by === 'string'));
  });

  test('another key sees only its own groups', async () => {
    const res = await request(`${stack.url}/v1/models`, { headers: { authorization: `Bearer ${OTHER_KEY}` } });
    assert.deepEqual(res.json.data.map((m) => m.id).sort(), ['g2', 'model-y']);
  });

  test('the SDK lists the same models; a wrong key → 401', async () => {
    const ids = [];
    for await (const m of client(stack).models.list()) ids.push(m.id);
    assert.deepEqual(ids.sort(), ['g1', 'g3', 'mock-chat', 'model-x', 'model-z'].sort());
    const res = await request(`${stack.url}/v1/models`, { headers: { authorization: 'Bearer sk-nope' } });
    assertErrorBody(res, 401);
  });

  test('a key cannot use a model of a group it does not have', async () => {
    const res = await post({ model: 'model-y', messages: USER });
    assertErrorBody(res, 404);
    const ok = await post({ model: 'model-y', messages: USER }, { authorization: `Bearer ${OTHER_KEY}` });
    assert.equal(ok.status, 200, ok.body);
  });
});
