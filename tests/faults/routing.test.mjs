// routing.test.mjs — failover and channel health against misbehaving providers
// (the routing issue's fault tests), through the real router and ingress.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chat, events, pool, startGateway, startMock, start, stop, BIN } from './stack.mjs';
import path from 'node:path';

let mock;
before(async () => { mock = await startMock(); });
after(async () => { await stop(mock.child); });

const KEY = 'sb-faults';
const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];

test('1,000 requests (JSON and streaming) all succeed through a 500-half-the-time, a slow, a resetting and a healthy channel', async () => {
  const m = mock.url;
  const config = {
    channels: [
      { name: 'flaky', base_url: `${m}/x/status=500,fail_rate=0.5/v1`, models: ['m'], weight: 1 },
      { name: 'slow', base_url: `${m}/x/latency_ms=3000,ttft_ms=3000/v1`, models: ['m'], weight: 1,
        timeouts: { first_byte_ms: 300 } },
      { name: 'reset', base_url: `${m}/x/reset=1/v1`, models: ['m'], weight: 1 },
      { name: 'healthy', base_url: `${m}/v1`, models: ['m'], weight: 1 },
    ],
    model_groups: [{ name: 'g', channels: ['flaky', 'slow', 'reset', 'healthy'], models: ['m'],
                     load_balance_strategy: 'round_robin', max_attempts: 4, timeout_seconds: 30 }],
    api_keys: [{ name: 'k', key: KEY, model_groups: ['g'] }],
  };
  const gw = await startGateway(config);
  try {
    const results = await pool(1000, 24, async (i) => {
      const stream = i % 2 === 1;
      const r = await chat(gw.base, KEY, { model: 'm', stream, messages: [{ role: 'user', content: `hi ${i}` }],
                                            mock: { chunks: 3 } });
      if (r.status !== 200) return `#${i} status ${r.status}: ${r.text.slice(0, 200)}`;
      if (stream) {
        const ev = events(r.text);
        if (ev[ev.length - 1] !== '[DONE]') return `#${i} stream not ended by [DONE]`;
        if (ev.some((e) => e.includes('"error"'))) return `#${i} stream carried an error event`;
        const text = ev.slice(0, -1).map((e) => JSON.parse(e)).map((c) => c.choices?.[0]?.delta?.content || '').join('');
        if (text !== 'Lorem ipsum dolor') return `#${i} stream content ${JSON.stringify(text)}`;
      } else {
        const body = JSON.parse(r.text);
        if (!body.choices?.[0]?.message?.content) return `#${i} no content`;
      }
      return null;
    });
    const failures = results.filter(Boolean);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of 1000 failed`);
  } finally { await gw.close(); }
});

test('a stream that breaks after its first byte ends with a clean error event and [DONE]', async () => {
  const config = {
    channels: [{ name: 'cut', base_url: `${mock.url}/x/drop_after=2/v1`, models: ['m'] },
               { name: 'spare', base_url: `${mock.url}/v1`, models: ['m'], priority: 2 }],
    model_groups: [{ name: 'g', channels: ['cut', 'spare'], models: ['m'] }],
    api_keys: [{ name: 'k', key: KEY, model_groups: ['g'] }],
  };
  const gw = await startGateway(config);
  try {
    const r = await chat(gw.base, KEY, { model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }],
                                         mock: { chunks: 6, gap_ms: 20 } });
    assert.equal(r.status, 200);
    const ev = events(r.text);
    assert.equal(ev[ev.length - 1], '[DONE]');
    const err = JSON.parse(ev[ev.length - 2]);
    assert.ok(err.error, 'the event before [DONE] is an error');
    assert.equal(err.error.code, 'stream_interrupted');
    assert.ok(ev.length >= 3, 'some chunks arrived before the break');
    // Nothing was resent on the spare channel after bytes had gone out.
    const content = ev.slice(0, -2).map((e) => JSON.parse(e)).filter((c) => c.choices).map((c) => c.choices[0].delta.content || '').join('');
    assert.ok(!content.includes('Lorem ipsum dolor sit amet consectetur'), 'no duplicated content');
  } finally { await gw.close(); }
});

test('a failing channel opens its breaker, is skipped, and recovers through the half-open probe', async () => {
  const { freePort } = await import('./stack.mjs');
  const port = await freePort(); // nothing listens yet: connection refused
  const config = {
    channels: [{ name: 'primary', base_url: `http://127.0.0.1:${port}/v1`, models: ['m'], priority: 1 },
               { name: 'backup', base_url: `${mock.url}/v1`, models: ['m'], priority: 2 }],
    model_groups: [{ name: 'g', channels: ['primary', 'backup'], models: ['m'], max_attempts: 3,
                     circuit_breaker: { failure_threshold: 3, cooldown_ms: 1500 } }],
    api_keys: [{ name: 'k', key: KEY, model_groups: ['g'] }],
  };
  const gw = await startGateway(config);
  let primary;
  try {
    const seen = [];
    for (let i = 0; i < 8; i++) {
      const r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(r.status, 200);
      seen.push(`${r.headers.get('x-switchboard-channel')}/${r.headers.get('x-switchboard-attempts')}`);
    }
    // Three failures open the breaker: after that, the primary is not even tried.
    assert.deepEqual(seen.slice(0, 3), ['backup/2', 'backup/2', 'backup/2']);
    assert.deepEqual(seen.slice(3), Array(5).fill('backup/1'));
    // The primary comes back; after the cooldown one probe goes to it and closes the breaker.
    primary = await startMock(port);
    await new Promise((r) => setTimeout(r, 1700));
    const probe = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(probe.status, 200);
    assert.equal(probe.headers.get('x-switchboard-channel'), 'primary');
    const next = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(next.headers.get('x-switchboard-channel'), 'primary');
    assert.equal(next.headers.get('x-switchboard-attempts'), '1');
  } finally { await gw.close(); if (primary) await stop(primary.child); }
});

test('every channel of a group resting behind its breaker: 503 no_channel_available with a Retry-After for when one may serve again', async () => {
  const { freePort } = await import('./stack.mjs');
  const port = await freePort(); // nothing listens: connection refused
  const config = {
    channels: [{ name: 'down', base_url: `http://127.0.0.1:${port}/v1`, models: ['m'] }],
    model_groups: [{ name: 'g', channels: ['down'], models: ['m'], max_attempts: 1,
                     circuit_breaker: { failure_threshold: 2, cooldown_ms: 2500 } }],
    api_keys: [{ name: 'k', key: KEY, model_groups: ['g'] }],
  };
  const gw = await startGateway(config);
  try {
    for (let i = 0; i < 2; i++) {
      const r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(r.status, 502, 'tried and failed');
      assert.equal(r.headers.get('retry-after'), null);
    }
    const r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 503);
    assert.equal(JSON.parse(r.text).error.code, 'no_channel_available');
    const after = Number(r.headers.get('retry-after'));
    assert.ok(after >= 1 && after <= 3, `Retry-After ${r.headers.get('retry-after')} (the breaker rests 2.5 s)`);
  } finally { await gw.close(); }
});

test('Retry-After on a 429 is honoured: the channel waits, the client gets 429 with Retry-After when nothing else serves', async () => {
  const config = {
    channels: [{ name: 'limited', base_url: `${mock.url}/x/status=429,retry_after=1/v1`, models: ['m'] },
               { name: 'limited2', base_url: `${mock.url}/x/status=429,retry_after=1/v1`, models: ['m2'] },
               { name: 'free', base_url: `${mock.url}/v1`, models: ['m2'], priority: 2 }],
    model_groups: [{ name: 'one', channels: ['limited'], models: ['m'], max_attempts: 2 },
                   { name: 'two', channels: ['limited2', 'free'], models: ['m2'], max_attempts: 2 }],
    api_keys: [{ name: 'k', key: KEY, model_groups: ['one', 'two'] }],
  };
  const gw = await startGateway(config);
  try {
    const t0 = Date.now();
    const r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    const waited = Date.now() - t0;
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(r.headers.get('x-switchboard-attempts'), '2');
    assert.ok(waited >= 950, `second attempt waited out Retry-After (${waited} ms)`);
    assert.equal(JSON.parse(r.text).error.type, 'rate_limit_error');
    // With another channel in the group, the request is served there at once.
    const t1 = Date.now();
    const s = await chat(gw.base, KEY, { model: 'm2', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(s.status, 200);
    assert.equal(s.headers.get('x-switchboard-channel'), 'free');
    assert.ok(Date.now() - t1 < 900, 'no wait when another channel is free');
  } finally { await gw.close(); }
});
