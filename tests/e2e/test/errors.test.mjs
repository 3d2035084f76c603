//  Error mapping: what the official client raises for each failure, with the status,
//  the OpenAI error body {"error":{"message","type","code"}} and x-request-id.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import OpenAI from 'openai';

import { KEY, USER, client } from '../lib/fixtures.mjs';
import { makeConfig, request, startMock, startStack, stopAll } from '../lib/stack.mjs';

let mock, stack, openai;

before(async () => {
  mock = await startMock();
  stack = await startStack(
    makeConfig({
      mock,
      channels: [
        { name: 'healthy' },
        { name: 'err500-a', knobs: 'status=500' },
        { name: 'err500-b', knobs: 'status=500' },
        { name: 'err429', knobs: 'status=429,retry_after=1' },
        { name: 'err429-bare', knobs: 'status=429' },
        { name: 'hang', knobs: 'hang' },
        { name: 'hang-fb', knobs: 'hang', timeouts: { first_byte_ms: 700 } },
      ],
      groups: [
        { name: 'ok', channels: ['healthy'], models: ['mock-chat'] },
        { name: 'broken', channels: ['err500-a', 'err500-b'], models: ['broken-model'], load_balance_strategy: 'round_robin' },
        { name: 'limited', channels: ['err429'], models: ['limited-model'] },
        { name: 'limited-bare', channels: ['err429-bare'], models: ['limited-bare-model'] },
        { name: 'slow', channels: ['hang'], models: ['slow-model'], timeout_seconds: 2 },
        { name: 'slow-fb', channels: ['hang-fb'], models: ['slow-fb-model'] },
      ],
      keys: [{ name: 'e2e', key: KEY, model_groups: ['ok', 'broken', 'limited', 'limited-bare', 'slow', 'slow-fb'] }],
    }),
  );
  openai = client(stack);
});

after(() => stopAll(stack, mock));

//  Runs `call`, expects it to throw an instance of `cls` with `status`; returns the error.
async function expectError(call, cls, status) {
  let err;
  try {
    await call();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${cls.name} (${status}), but the call succeeded`);
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err.constructor.name}: ${err.message}`);
  assert.equal(err.status, status, err.message);
  assert.ok(err.headers?.get('x-request-id'), 'x-request-id on the error response');
  assert.equal(typeof err.error?.message, 'string', 'error.message');
  assert.ok(err.error.message.length > 0);
  assert.equal(typeof err.error.type, 'string', 'error.type');
  assert.ok('code' in err.error, 'error.code present');
  return err;
}

//  The same request over raw HTTP: the body must be exactly the OpenAI error shape.
async function rawError(body, headers = {}) {
  const res = await request(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    body,
  });
  assert.match(res.headers['content-type'], /^application\/json/);
  assert.ok(res.headers['x-request-id']);
  assert.ok(res.json && typeof res.json.error === 'object', `error body: ${res.body}`);
  assert.deepEqual(Object.keys(res.json), ['error']);
  for (const k of ['message', 'type', 'code']) assert.ok(k in res.json.error, `error.${k} in ${res.body}`);
  return res;
}

describe('client errors', () => {
  test('wrong key → AuthenticationError 401', async () => {
    const bad = new OpenAI({ baseURL: stack.baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
    const err = await expectError(
      () => bad.chat.completions.create({ model: 'mock-chat', messages: USER }),
      OpenAI.AuthenticationError,
      401,
    );
    assert.equal(err.code, 'invalid_api_key');
    const before = (await mock.stats()).requests;
    await assert.rejects(bad.models.list(), OpenAI.AuthenticationError);
    assert.equal((await mock.stats()).requests, before, 'nothing reached the provider');
  });

  test('no Authorization header → 401', async () => {
    const res = await rawError({ model: 'mock-chat', messages: USER }, { authorization: '' });
    assert.equal(res.status, 401);
  });

  test('missing messages → BadRequestError 400', async () => {
    const err = await expectError(() => openai.chat.completions.create({ model: 'mock-chat' }), OpenAI.BadRequestError, 400);
    assert.match(err.error.message, /messages/);
    assert.equal(err.error.type, 'invalid_request_error');
  });

  test('missing model → BadRequestError 400', async () => {
    const err = await expectError(() => openai.chat.completions.create({ messages: USER }), OpenAI.BadRequestError, 400);
    assert.match(err.error.message, /model/);
  });

  test('unknown model → NotFoundError 404 naming the model', async () => {
    const err = await expectError(
      () => openai.chat.completions.create({ model: 'no-such-model', messages: USER }),
      OpenAI.NotFoundError,
      404,
    );
    assert.match(err.error.message, /no-such-model/);
  });

  test('a model of a group the key cannot reach is unknown too (404)', async () => {
    const res = await rawError({ model: 'gpt-4o', messages: USER });
    assert.equal(res.status, 404);
  });

  test('duplicate "model" keys are refused (the key\'s model scope must hold)', async () => {
    const before = (await mock.stats()).requests;
    const res = await rawError('{"model":"mock-chat","messages":[],"model":"some-other-model"}');
    assert.equal(res.status, 400);
    assert.equal((await mock.stats()).requests, before, 'nothing sent upstream');
  });

  test('a duplicate spelled with an escape ("mod\\u0065l") is a duplicate too', async () => {
    const before = (await mock.stats()).requests;
    const res = await rawError('{"model":"mock-chat","messages":[],"mod\\u0065l":"some-other-model"}');
    assert.equal(res.status, 400);
    assert.match(res.json.error.message, /more than once/);
    assert.equal((await mock.stats()).requests, before, 'nothing sent upstream');
  });

  test('duplicate "stream" keys are refused (JSON vs SSE must agree)', async () => {
    const res = await rawError('{"model":"mock-chat","messages":[],"stream":false,"stream":true}');
    assert.equal(res.status, 400);
  });

  test('a model name with a NUL escape is refused, not truncated', async () => {
    const before = (await mock.stats()).requests;
    const res = await rawError('{"model":"mock-chat\\u0000x","messages":[]}');
    assert.equal(res.status, 400);
    assert.equal((await mock.stats()).requests, before, 'refused by the gateway, not sent upstream');
  });

  test('stream: "yes" (not a boolean) → 400', async () => {
    const res = await rawError({ model: 'mock-chat', messages: USER, stream: 'yes' });
    assert.equal(res.status, 400);
  });
});

describe('provider and gateway errors', () => {
  test('provider 500 on every channel → 502 (InternalServerError), both channels tried', async () => {
    const before = (await mock.stats()).requests;
    const err = await expectError(
      () => openai.chat.completions.create({ model: 'broken-model', messages: USER }),
      OpenAI.InternalServerError,
      502,
    );
    assert.equal((await mock.stats()).requests - before, 2, 'each channel tried once');
    assert.match(err.error.message, /500/);
    const res = await rawError({ model: 'broken-model', messages: USER });
    assert.equal(res.status, 502);
  });

  test('provider 500 on a stream request → 502 before any byte, as JSON', async () => {
    const err = await expectError(
      () => openai.chat.completions.create({ model: 'broken-model', messages: USER, stream: true }),
      OpenAI.InternalServerError,
      502,
    );
    assert.match(err.headers.get('content-type'), /^application\/json/);
  });

  test('provider error event mid-stream → the client gets that one error event, then [DONE]', async () => {
    const res = await request(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: { model: 'mock-chat', messages: USER, stream: true, mock: { chunks: 4, error_after: 2 } },
    });
    assert.equal(res.status, 200);
    const events = res.body.split('\n\n').filter((e) => e.startsWith('data: '));
    const errors = events.filter((e) => e.startsWith('data: {"error"'));
    assert.equal(errors.length, 1, res.body);
    assert.match(errors[0], /sb-mock: injected mid-stream error/);
    assert.equal(events.at(-1), 'data: [DONE]');
    assert.ok(events.indexOf(errors[0]) === events.length - 2, 'the error is the last event before [DONE]');
  });

  test('provider 429 → RateLimitError 429 with Retry-After passed through', async () => {
    //  The router waits out a lone channel's Retry-After and tries it again (up to
    //  max_attempts), so a 1 s Retry-After costs the client about 2 s here.
    const t0 = Date.now();
    const err = await expectError(
      () => openai.chat.completions.create({ model: 'limited-model', messages: USER }),
      OpenAI.RateLimitError,
      429,
    );
    assert.equal(err.headers.get('retry-after'), '1');
    assert.equal(err.error.type, 'rate_limit_error');
    assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms`);
  });

  test('provider 429 without Retry-After → 429 without one', async () => {
    const err = await expectError(
      () => openai.chat.completions.create({ model: 'limited-bare-model', messages: USER }),
      OpenAI.RateLimitError,
      429,
    );
    assert.equal(err.headers.get('retry-after'), null);
  });

  test('provider hangs, group timeout_seconds=2 → 504 in about 2 s', async () => {
    const t0 = Date.now();
    const err = await expectError(
      () => openai.chat.completions.create({ model: 'slow-model', messages: USER }),
      OpenAI.InternalServerError,
      504,
    );
    const took = Date.now() - t0;
    assert.ok(took >= 1500 && took < 8000, `took ${took} ms`);
    assert.ok(err.error.message.length > 0);
  });

  test('provider hangs, channel first_byte_ms=700 → 504 in about 0.7 s', async () => {
    const t0 = Date.now();
    await expectError(
      () => openai.chat.completions.create({ model: 'slow-fb-model', messages: USER, stream: true }),
      OpenAI.InternalServerError,
      504,
    );
    const took = Date.now() - t0;
    assert.ok(took >= 500 && took < 6000, `took ${took} ms`);
  });

  test('the hung upstream connections were closed by the gateway', async () => {
    //  Both timeouts above must have cancelled their provider calls.
    const stats = await mock.waitStats((s) => s.active === 0, 5000);
    assert.ok(stats.cancelled >= 2, JSON.stringify(stats));
  });
});

describe('limits', () => {
  test('SB_MAX_INFLIGHT: one request too many → 503 at once; a slot comes back when a client leaves', async () => {
    const s = await startStack(stack.config, { ingressEnv: { SB_MAX_INFLIGHT: '2' } });
    try {
      const c = client(s);
      const acs = [new AbortController(), new AbortController()];
      const held = acs.map((ac) =>
        c.chat.completions.create({ model: 'mock-chat', messages: USER, mock: { hang: true } }, { signal: ac.signal }).catch((e) => e),
      );
      await mock.waitStats((st) => st.active >= 2, 3000);
      const t0 = Date.now();
      const err = await expectError(
        () => c.chat.completions.create({ model: 'mock-chat', messages: USER }),
        OpenAI.InternalServerError,
        503,
      );
      assert.ok(Date.now() - t0 < 2000);
      assert.equal(err.code, 'overloaded');
      acs[0].abort();
      await held[0];
      await mock.waitStats((st) => st.active === 1, 3000);
      const ok = await c.chat.completions.create({ model: 'mock-chat', messages: USER, mock: { chunks: 1 } });
      assert.equal(ok.choices[0].message.content, 'Lorem');
      acs[1].abort();
      await held[1];
    } finally {
      await s.stop();
    }
  });

  test('a model name longer than the gateway allows → 400 that says so', async () => {
    const res = await rawError({ model: 'm'.repeat(300), messages: USER });
    assert.equal(res.status, 400);
    assert.doesNotMatch(res.json.error.message, /must provide a model/);
  });

  test('a model name with quotes and backslashes is escaped in the 404 body', async () => {
    const res = await rawError({ model: 'no"such\\model', messages: USER });
    assert.equal(res.status, 404);
    assert.match(res.json.error.message, /no"such\\model/);
  });
});

describe('router down', () => {
  test('ingress without a router: /readyz 503, chat 503 (InternalServerError), /healthz 200', async () => {
    const alone = await startStack(stack.config, { router: false });
    try {
      const ready = await request(`${alone.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(ready.json.router, false);
      assert.equal((await request(`${alone.url}/healthz`)).status, 200);
      const c = client(alone);
      const t0 = Date.now();
      const err = await expectError(
        () => c.chat.completions.create({ model: 'mock-chat', messages: USER }),
        OpenAI.InternalServerError,
        503,
      );
      assert.ok(Date.now() - t0 < 3000, 'answered at once, not after a timeout');
      assert.match(err.error.message, /router/i);
    } finally {
      await alone.stop();
    }
  });

  test('router killed: in-flight request → 503, new requests → 503, /readyz 503; restarted: back to 200', async () => {
    const s = await startStack(stack.config);
    try {
      const c = client(s);
      assert.equal((await c.chat.completions.create({ model: 'mock-chat', messages: USER })).choices[0].message.content.length > 0, true);
      //  A request the router holds: the provider never answers (group timeout 60 s).
      const inflight = c.chat.completions.create({ model: 'mock-chat', messages: USER, mock: { hang: true } }).then(
        () => null,
        (e) => e,
      );
      await new Promise((r) => setTimeout(r, 300));
      await s.router.kill();
      const t0 = Date.now();
      const err = await inflight;
      assert.ok(err instanceof OpenAI.APIError, `in-flight request failed: ${err}`);
      assert.equal(err.status, 503, `in-flight status ${err.status}: ${err.message}`);
      assert.ok(Date.now() - t0 < 6000, 'in-flight request failed within the heartbeat timeout');

      const e2 = await expectError(
        () => c.chat.completions.create({ model: 'mock-chat', messages: USER }),
        OpenAI.InternalServerError,
        503,
      );
      assert.ok(e2.error.message);
      await s.waitReady(503, 6000);

      await s.startRouter();
      await s.waitReady(200, 8000);
      const back = await c.chat.completions.create({ model: 'mock-chat', messages: USER });
      assert.equal(back.choices[0].finish_reason, 'stop');
    } catch (err) {
      err.message += `\n${s.logs()}`;
      throw err;
    } finally {
      await s.stop();
    }
  });
});
