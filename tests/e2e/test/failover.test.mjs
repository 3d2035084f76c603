//  Failover and load balancing. Two mock processes make the per-channel counts exact:
//  `bad` serves every failing channel (each failure chosen by its base_url's /x/ knobs),
//  `good` and `good2` the healthy ones.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';

import OpenAI from 'openai';

import { KEY, USER, client, lorem } from '../lib/fixtures.mjs';
import { freePort, makeConfig, sleep, startMock, startStack, stopAll } from '../lib/stack.mjs';

let bad, good, good2, stack, openai;

before(async () => {
  [bad, good, good2] = await Promise.all([startMock(), startMock(), startMock()]);
  const closedPort = await freePort(); // nothing listens there: connection refused
  stack = await startStack(
    makeConfig({
      mock: good,
      channels: [
        { name: 'fail500', mock: bad, knobs: 'status=500', priority: 1 },
        { name: 'fail500-s', mock: bad, knobs: 'status=500', priority: 1 },
        { name: 'fail500-b', mock: bad, knobs: 'status=500', priority: 1 },
        { name: 'reject400', mock: bad, knobs: 'status=400', priority: 1 },
        { name: 'limit429', mock: bad, knobs: 'status=429,retry_after=2', priority: 1 },
        { name: 'refused', base_url: `http://127.0.0.1:${closedPort}/v1`, priority: 1 },
        { name: 'hangs', mock: bad, knobs: 'hang', priority: 1, timeouts: { first_byte_ms: 500 } },
        { name: 'drops', mock: bad, knobs: 'drop_after=2', priority: 1 },
        { name: 'good', priority: 2 },
        { name: 'lb-a', weight: 3 },
        { name: 'lb-b', mock: good2, weight: 1 },
      ],
      groups: [
        { name: 'fo', channels: ['fail500', 'good'], models: ['fo-model'] },
        { name: 'fo-stream', channels: ['fail500-s', 'good'], models: ['fo-stream-model'] },
        { name: 'fo-breaker', channels: ['fail500-b', 'good'], models: ['fo-breaker-model'] },
        { name: 'rej', channels: ['reject400', 'good'], models: ['rej-model'] },
        { name: 'rl', channels: ['limit429', 'good'], models: ['rl-model'] },
        { name: 'conn', channels: ['refused', 'good'], models: ['conn-model'] },
        { name: 'slow', channels: ['hangs', 'good'], models: ['slow-model'] },
        { name: 'mid', channels: ['drops', 'good'], models: ['mid-model'] },
        { name: 'rr', channels: ['lb-a', 'lb-b'], models: ['rr-model'], load_balance_strategy: 'round_robin' },
        { name: 'wt', channels: ['lb-a', 'lb-b'], models: ['wt-model'], load_balance_strategy: 'weighted' },
      ],
      keys: [{ name: 'e2e', key: KEY, model_groups: ['fo', 'fo-stream', 'fo-breaker', 'rej', 'rl', 'conn', 'slow', 'mid', 'rr', 'wt'] }],
    }),
  );
  openai = client(stack);
});

after(() => stopAll(stack, bad, good, good2));

beforeEach(async () => {
  for (const m of [bad, good, good2]) {
    await m.waitStats((s) => s.active === 0, 5000);
    await m.reset();
  }
});

const count = async (m) => (await m.stats()).requests;

describe('failover before the first byte', () => {
  test('JSON: first channel 500s, second serves; both were tried, once each', async () => {
    for (let i = 1; i <= 2; i++) {
      const { data: r, response } = await openai.chat.completions
        .create({ model: 'fo-model', messages: USER, mock: { chunks: 3 } })
        .withResponse();
      assert.equal(r.choices[0].message.content, lorem(3));
      assert.equal(response.headers.get('x-switchboard-channel'), 'good');
      assert.equal(response.headers.get('x-switchboard-attempts'), '2');
      assert.equal(await count(bad), i, 'the failing channel was tried first');
      assert.equal(await count(good), i, 'the healthy channel answered');
    }
    assert.equal((await bad.last()).path, '/x/status=500/v1/chat/completions');
    assert.equal((await good.last()).path, '/v1/chat/completions');
    //  The second attempt carried the client's body unchanged.
    assert.deepEqual((await good.last()).json.messages, USER);
  });

  test('stream: first channel 500s, the stream comes whole from the second', async () => {
    const stream = await openai.chat.completions.create({
      model: 'fo-stream-model',
      messages: USER,
      stream: true,
      stream_options: { include_usage: true },
      mock: { chunks: 6 },
    });
    const got = [];
    for await (const c of stream) got.push(c);
    assert.equal(got.map((c) => c.choices[0]?.delta.content ?? '').join(''), lorem(6));
    assert.equal(got.at(-1).usage.completion_tokens, 6);
    assert.equal(got.filter((c) => c.choices[0]?.delta.role === 'assistant').length, 1, 'one role chunk: nothing of the failed attempt leaked');
    assert.equal(await count(bad), 1);
    assert.equal(await count(good), 1);
  });

  test('connection refused on the first channel → served by the second', async () => {
    const r = await openai.chat.completions.create({ model: 'conn-model', messages: USER, mock: { chunks: 2 } });
    assert.equal(r.choices[0].message.content, 'Lorem ipsum');
    assert.equal(await count(good), 1);
  });

  test('first channel sends no first byte within first_byte_ms → served by the second', async () => {
    const t0 = Date.now();
    const r = await openai.chat.completions.create({ model: 'slow-model', messages: USER, mock: { chunks: 2 } });
    const took = Date.now() - t0;
    assert.equal(r.choices[0].message.content, 'Lorem ipsum');
    assert.ok(took >= 400 && took < 5000, `took ${took} ms`);
    assert.equal(await count(bad), 1);
    assert.equal(await count(good), 1);
    await bad.waitStats((s) => s.cancelled === 1 && s.active === 0, 3000);
  });

  test('429 with Retry-After: served by the second; the first rests for Retry-After, then is used again', async () => {
    const r1 = await openai.chat.completions.create({ model: 'rl-model', messages: USER, mock: { chunks: 1 } });
    assert.equal(r1.choices[0].message.content, 'Lorem');
    assert.deepEqual([await count(bad), await count(good)], [1, 1]);
    //  While it rests, the 429 channel is skipped.
    await openai.chat.completions.create({ model: 'rl-model', messages: USER, mock: { chunks: 1 } });
    assert.deepEqual([await count(bad), await count(good)], [1, 2], 'the resting channel was skipped');
    await sleep(2300);
    await openai.chat.completions.create({ model: 'rl-model', messages: USER, mock: { chunks: 1 } });
    assert.deepEqual([await count(bad), await count(good)], [2, 3], 'tried again after its Retry-After');
  });

  test('400 from the provider is not retried: the client gets the provider\'s status and message', async () => {
    let err;
    try {
      await openai.chat.completions.create({ model: 'rej-model', messages: USER });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof OpenAI.BadRequestError, `got ${err}`);
    assert.equal(err.status, 400);
    assert.equal(err.error.message, 'sb-mock: injected HTTP 400');
    assert.equal(await count(bad), 1);
    assert.equal(await count(good), 0, 'the second channel was not tried');
  });

  test('a stream cut after it started is not retried: the client gets the partial stream and an error', async () => {
    const stream = await openai.chat.completions.create({ model: 'mid-model', messages: USER, stream: true, mock: { chunks: 6 } });
    const got = [];
    let err;
    try {
      for await (const c of stream) got.push(c);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof OpenAI.APIError, `the SDK raised: ${err}`);
    assert.ok(err.message.length > 0);
    assert.equal(got.map((c) => c.choices[0].delta.content ?? '').join(''), lorem(2), 'the two pieces sent before the cut');
    assert.equal(await count(good), 0, 'no failover after the first byte');
  });

  test('after 5 straight failures the breaker opens: the failing channel is skipped', async () => {
    const hits = [];
    for (let i = 0; i < 8; i++) {
      const r = await openai.chat.completions.create({ model: 'fo-breaker-model', messages: USER, mock: { chunks: 1 } });
      assert.equal(r.choices[0].message.content, 'Lorem');
      hits.push(await count(bad));
    }
    assert.equal(await count(good), 8);
    assert.equal(hits.at(-1), 5, `failing channel hits after each request: ${hits}`);
    assert.deepEqual(hits.slice(5), [5, 5, 5]);
  });
});

describe('load balancing', () => {
  test('round_robin alternates between two channels', async () => {
    for (let i = 0; i < 10; i++) await openai.chat.completions.create({ model: 'rr-model', messages: USER, mock: { chunks: 1 } });
    assert.deepEqual([await count(good), await count(good2)], [5, 5]);
  });

  test('weighted 3:1 splits 12 requests 9:3', async () => {
    for (let i = 0; i < 12; i++) await openai.chat.completions.create({ model: 'wt-model', messages: USER, mock: { chunks: 1 } });
    assert.deepEqual([await count(good), await count(good2)], [9, 3]);
  });
});
