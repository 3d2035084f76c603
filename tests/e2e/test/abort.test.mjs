//  A client that goes away cancels the provider call: the gateway closes its upstream
//  connection, which sb-mock counts in /_mock/stats.cancelled.

import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import OpenAI from 'openai';

import { KEY, USER, WEATHER_TOOL, client } from '../lib/fixtures.mjs';
import { makeConfig, sleep, startMock, startStack, stopAll } from '../lib/stack.mjs';

let mock, stack, openai;

before(async () => {
  mock = await startMock();
  stack = await startStack(
    makeConfig({
      mock,
      channels: [{ name: 'mock-a' }],
      groups: [
        { name: 'g', channels: ['mock-a'], models: ['mock-chat'] },
        { name: 'v', channels: ['mock-a'], models: ['v-model'], enable_tool_validation: true, tool_validation_mode: 'auto_fix' },
      ],
      keys: [{ name: 'e2e', key: KEY, model_groups: ['g', 'v'] }],
    }),
  );
  openai = client(stack);
});

after(() => stopAll(stack, mock));

beforeEach(async () => {
  //  Each test starts from a quiet mock: nothing in flight from the previous one.
  await mock.waitStats((s) => s.active === 0, 5000);
  await mock.reset();
});

//  Waits for the mock to count one more cancel and nothing left active; returns the
//  time it took from `t0`.
async function cancelSeen(t0) {
  await mock.waitStats((s) => s.cancelled >= 1 && s.active === 0, 4000, 20);
  return Date.now() - t0;
}

test('stream.controller.abort() mid-stream cancels the provider call within 2 s', async () => {
  const stream = await openai.chat.completions.create({
    model: 'mock-chat',
    messages: USER,
    stream: true,
    mock: { chunks: 50, gap_ms: 100 },
  });
  const got = [];
  let t0;
  let aborted = false;
  try {
    for await (const chunk of stream) {
      got.push(chunk);
      if (got.length === 5) {
        t0 = Date.now();
        stream.controller.abort();
      }
    }
  } catch (err) {
    aborted = err instanceof OpenAI.APIUserAbortError || err.name === 'AbortError';
    if (!aborted) throw err;
  }
  assert.ok(got.length >= 5 && got.length < 50, `got ${got.length} chunks`);
  const took = await cancelSeen(t0);
  assert.ok(took < 2000, `provider saw the cancel after ${took} ms`);
  const stats = await mock.stats();
  assert.equal(stats.completed, 0, 'the provider did not finish the stream');
  assert.equal(stats.requests, 1);
});

test('AbortController signal mid-stream cancels the provider call', async () => {
  const ac = new AbortController();
  const stream = await openai.chat.completions.create(
    { model: 'mock-chat', messages: USER, stream: true, mock: { chunks: 50, gap_ms: 100 } },
    { signal: ac.signal },
  );
  let n = 0;
  let t0;
  //  The SDK's stream iterator ends quietly when its signal aborts (or throws an
  //  abort error, depending on timing); either is fine, what matters is upstream.
  try {
    for await (const _ of stream) {
      if (++n === 3) {
        t0 = Date.now();
        ac.abort();
      }
    }
  } catch (err) {
    if (!(err instanceof OpenAI.APIUserAbortError || err.name === 'AbortError')) throw err;
  }
  assert.ok(n >= 3 && n < 50, `got ${n} chunks`);
  const took = await cancelSeen(t0);
  assert.ok(took < 2000, `provider saw the cancel after ${took} ms`);
});

test('abort before the first byte (provider still thinking) cancels too', async () => {
  const ac = new AbortController();
  const p = openai.chat.completions.create(
    { model: 'mock-chat', messages: USER, stream: true, mock: { ttft_ms: 5000 } },
    { signal: ac.signal },
  );
  await mock.waitStats((s) => s.active === 1, 3000, 20);
  const t0 = Date.now();
  ac.abort();
  await assert.rejects(p, OpenAI.APIUserAbortError);
  const took = await cancelSeen(t0);
  assert.ok(took < 2000, `provider saw the cancel after ${took} ms`);
});

test('abort of a slow JSON (non-stream) request cancels too', async () => {
  const ac = new AbortController();
  const p = openai.chat.completions.create(
    { model: 'mock-chat', messages: USER, mock: { latency_ms: 5000 } },
    { signal: ac.signal },
  );
  await mock.waitStats((s) => s.active === 1, 3000, 20);
  const t0 = Date.now();
  ac.abort();
  await assert.rejects(p, OpenAI.APIUserAbortError);
  const took = await cancelSeen(t0);
  assert.ok(took < 2000, `provider saw the cancel after ${took} ms`);
});

test('abort while the router holds a streamed tool call for validation cancels too', async () => {
  const ac = new AbortController();
  const p = (async () => {
    const stream = await openai.chat.completions.create(
      { model: 'v-model', messages: USER, tools: [WEATHER_TOOL], stream: true, mock: { tool: 'valid', chunks: 30, gap_ms: 100 } },
      { signal: ac.signal },
    );
    for await (const _ of stream);
  })();
  await mock.waitStats((s) => s.active === 1, 3000, 20);
  await sleep(500); // some argument deltas are held by now
  const t0 = Date.now();
  ac.abort();
  await p.catch(() => {});
  const took = await cancelSeen(t0);
  assert.ok(took < 2000, `provider saw the cancel after ${took} ms`);
});

test('after the aborts the gateway serves normally', async () => {
  const res = await openai.chat.completions.create({ model: 'mock-chat', messages: USER, mock: { chunks: 2 } });
  assert.equal(res.choices[0].message.content, 'Lorem ipsum');
  await sleep(10);
  const stats = await mock.stats();
  assert.equal(stats.completed, 1);
  assert.equal(stats.cancelled, 0);
});
