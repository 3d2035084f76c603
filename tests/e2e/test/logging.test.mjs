//  Request records end to end: router → sb-logger → Redis streams. Each request's record
//  must say what really happened (status, channel, attempts, the provider's usage, the
//  bodies), and a Redis outage must not slow requests down nor lose their records.
//  Skipped when redis-server is not installed.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { KEY, USER, client, mockPromptTokens } from '../lib/fixtures.mjs';
import { Redis, streamEntries } from '../lib/redis.mjs';
import { findExecutable, makeConfig, request, sleep, startMock, startRedis, startStack, stopAll } from '../lib/stack.mjs';

const HAVE_REDIS = !!findExecutable('redis-server');
const STREAM = 'sb:{log}:requests';

let mock, stack, redisSvc, redis, openai;

//  The record of request `id` once the logger has written it: {id, fields, data}.
async function record(id, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const entryId = await redis.command('GET', `sb:{log}:req:${id}`);
    if (entryId) {
      const [entry] = streamEntries(await redis.command('XRANGE', STREAM, entryId, entryId));
      if (entry) return { ...entry, data: JSON.parse(entry.fields.data) };
    }
    if (Date.now() > until) throw new Error(`no record for request ${id} after ${timeoutMs} ms\n${stack.logs()}`);
    await sleep(50);
  }
}

const withId = (id) => ({ headers: { 'x-request-id': id } });

describe('request records in Redis', { skip: HAVE_REDIS ? false : 'redis-server is not installed' }, () => {
  before(async () => {
    mock = await startMock();
    stack = await startStack(
      makeConfig({
        mock,
        channels: [{ name: 'bad', knobs: 'status=500', priority: 1 }, { name: 'good', priority: 2 }],
        groups: [
          { name: 'g', channels: ['good'], models: ['mock-chat'] },
          { name: 'fo', channels: ['bad', 'good'], models: ['fo-model'] },
        ],
        keys: [{ name: 'e2e-key', key: KEY, model_groups: ['g', 'fo'] }],
      }),
    );
    redisSvc = await startRedis();
    await stack.startLogger(`redis://127.0.0.1:${redisSvc.port}`);
    redis = await new Redis(redisSvc.port).connect();
    openai = client(stack);
    //  The router's PUSH socket drops events until it has connected to the logger:
    //  warm up until a record comes through.
    for (let i = 0; ; i++) {
      await openai.chat.completions.create({ model: 'mock-chat', messages: USER }, withId(`warmup-${i}`));
      try {
        await record(`warmup-${i}`, 300);
        break;
      } catch (err) {
        if (i > 30) throw err;
      }
    }
  });

  after(async () => {
    redis?.close();
    await stopAll(stack, redisSvc, mock);
  });

  test('a JSON request: status, key, group, channel, usage and both bodies', async () => {
    const body = { model: 'mock-chat', messages: USER, mock: { chunks: 4 } };
    const { data: resp, response } = await openai.chat.completions.create(body, withId('rec-json')).withResponse();
    const rec = await record('rec-json');
    assert.equal(rec.fields.request_id, 'rec-json');
    const d = rec.data;
    assert.equal(d.request_id, 'rec-json');
    assert.equal(d.status, 200);
    assert.equal(d.key, 'e2e-key');
    assert.equal(d.group, 'g');
    assert.equal(d.model, 'mock-chat');
    assert.equal(d.channel, 'good');
    assert.equal(d.attempts, 1);
    assert.equal(d.stream, false);
    assert.deepEqual(d.usage, {
      prompt_tokens: resp.usage.prompt_tokens,
      completion_tokens: 4,
      total_tokens: resp.usage.total_tokens,
    });
    assert.deepEqual(JSON.parse(rec.fields.request_body), body);
    assert.deepEqual(JSON.parse(rec.fields.response_body), resp);
    assert.equal(response.headers.get('x-request-id'), 'rec-json');
    assert.ok(d.timings_us.total >= d.timings_us.first_byte);
  });

  test('a stream without include_usage: the record still has the provider\'s usage', async () => {
    const stream = await openai.chat.completions.create(
      { model: 'mock-chat', messages: USER, stream: true, mock: { chunks: 6 } },
      withId('rec-stream'),
    );
    for await (const c of stream) assert.equal(c.usage ?? null, null);
    const rec = await record('rec-stream');
    const last = await mock.last();
    const prompt = mockPromptTokens(last.body_bytes);
    assert.equal(rec.data.stream, true);
    assert.deepEqual(rec.data.usage, { prompt_tokens: prompt, completion_tokens: 6, total_tokens: prompt + 6 });
    assert.ok(rec.fields.chunks.includes('"content":"Lorem"'), 'the stream chunks are recorded');
  });

  test('a failover: two attempts, each with its channel and status', async () => {
    await openai.chat.completions.create({ model: 'fo-model', messages: USER }, withId('rec-fo'));
    const d = (await record('rec-fo')).data;
    assert.equal(d.status, 200);
    assert.equal(d.attempts, 2);
    assert.equal(d.channel, 'good');
    assert.deepEqual(
      d.attempt_log.map((a) => [a.channel, a.status]),
      [
        ['bad', 500],
        ['good', 200],
      ],
    );
  });

  test('a client that leaves mid-stream: recorded as 499', async () => {
    const stream = await openai.chat.completions.create(
      { model: 'mock-chat', messages: USER, stream: true, mock: { chunks: 40, gap_ms: 50 } },
      withId('rec-abort'),
    );
    let n = 0;
    for await (const _ of stream) if (++n === 3) stream.controller.abort();
    const d = (await record('rec-abort')).data;
    assert.equal(d.status, 499);
    assert.ok(d.error.length > 0);
  });

  test('requests refused at the ingress are recorded too (404, 401)', async () => {
    const refused = (id, auth, body) =>
      request(`${stack.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json', 'x-request-id': id },
        body,
      });
    const r404 = await refused('rec-404', `Bearer ${KEY}`, { model: 'no-such-model', messages: USER });
    assert.equal(r404.status, 404);
    const d404 = (await record('rec-404')).data;
    assert.equal(d404.status, 404);
    assert.equal(d404.refused_by, 'ingress');
    assert.equal(d404.key, 'e2e-key');
    assert.equal(d404.model, 'no-such-model');
    assert.equal(d404.error, r404.json.error.message);

    const r401 = await refused('rec-401', 'Bearer sk-wrong', { model: 'mock-chat', messages: USER });
    assert.equal(r401.status, 401);
    const d401 = (await record('rec-401')).data;
    assert.equal(d401.status, 401);
    assert.equal(d401.key, '', 'no key name for an unknown key');
  });

  let outage; // {ids, recs} of the Redis-down test, for the ordering test after it

  test('Redis down: requests are served as fast; their records arrive, once each, when Redis is back', async () => {
    const port = redisSvc.port;
    redis.close();
    await redisSvc.kill();
    const ids = [];
    try {
      for (let i = 0; i < 8; i++) {
        const t0 = Date.now();
        const r = await openai.chat.completions.create({ model: 'mock-chat', messages: USER, mock: { chunks: 1 } }, withId(`outage-${i}`));
        assert.equal(r.choices[0].message.content, 'Lorem');
        assert.ok(Date.now() - t0 < 1000, `request ${i} took ${Date.now() - t0} ms with Redis down`);
        ids.push(`outage-${i}`);
      }
      await sleep(300);
    } finally {
      redisSvc = await startRedis(port);
      redis = await new Redis(port).connect();
    }
    const recs = [];
    for (const id of ids) recs.push(await record(id, 10000));
    const all = streamEntries(await redis.command('XRANGE', STREAM, '-', '+')).map((e) => e.fields.request_id);
    for (const id of ids) assert.equal(all.filter((x) => x === id).length, 1, `${id} recorded once`);
    outage = { ids, recs };
  });

  //  Was a bug (fixed in 6282477): the event whose write failed was spooled after the
  //  ones that came next.
  test('... and in the order the requests finished', () => {
    assert.ok(outage, 'the Redis-down test ran');
    const byEntry = (a, b) => {
      const [am, as] = a.id.split('-').map(BigInt);
      const [bm, bs] = b.id.split('-').map(BigInt);
      return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
    };
    assert.deepEqual([...outage.recs].sort(byEntry).map((r) => r.fields.request_id), outage.ids);
  });
});
