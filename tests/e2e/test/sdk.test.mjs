//  The official openai client against the gateway: JSON completions, streams (with and
//  without usage), tool calls, and the SDK's streaming helper. Values are compared with
//  what sb-mock sent (GET /_mock/last), not only shapes.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ARGS_VALID, KEY, USER, WEATHER_TOOL, client, lorem, mockPieces, mockPromptTokens } from '../lib/fixtures.mjs';
import { makeConfig, startMock, startStack, stopAll } from '../lib/stack.mjs';

let mock, stack, openai;

before(async () => {
  mock = await startMock();
  stack = await startStack(
    makeConfig({
      mock,
      channels: [{ name: 'mock-a' }],
      groups: [
        { name: 'plain', channels: ['mock-a'], models: ['mock-chat', 'mock-tools-valid'] },
        {
          name: 'checked',
          channels: ['mock-a'],
          models: ['checked-model'],
          enable_tool_validation: true,
          tool_validation_mode: 'auto_fix',
        },
      ],
      keys: [{ name: 'e2e', key: KEY, model_groups: ['plain', 'checked'] }],
    }),
  );
  openai = client(stack);
});

after(() => stopAll(stack, mock));

describe('JSON completion', () => {
  test('content, ids and usage are the provider\'s', async () => {
    const content = 'Hello from the mock: ünïcödé ✓ and "quotes"\n';
    const { data, response } = await openai.chat.completions
      .create({ model: 'mock-chat', messages: USER, mock: { content, chunks: 7 } })
      .withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    assert.ok(response.headers.get('x-request-id'), 'x-request-id header');

    const last = await mock.last();
    assert.equal(last.path, '/v1/chat/completions');
    assert.equal(last.json.model, 'mock-chat');
    assert.deepEqual(last.json.messages, USER);
    assert.equal(last.headers.authorization, 'Bearer sk-mock-a', 'the channel\'s key goes upstream, not the client\'s');

    assert.equal(data.object, 'chat.completion');
    assert.match(data.id, /^chatcmpl-/);
    assert.equal(data.model, 'mock-chat');
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, content);
    assert.equal(data.choices[0].finish_reason, 'stop');
    const prompt = mockPromptTokens(last.body_bytes);
    assert.deepEqual(
      { p: data.usage.prompt_tokens, c: data.usage.completion_tokens, t: data.usage.total_tokens },
      { p: prompt, c: 7, t: prompt + 7 },
    );
  });

  test('default lorem text with the default 5 chunks', async () => {
    const data = await openai.chat.completions.create({ model: 'mock-chat', messages: USER });
    assert.equal(data.choices[0].message.content, lorem(5));
    assert.equal(data.usage.completion_tokens, 5);
  });

  test('the group name works as a model', async () => {
    const data = await openai.chat.completions.create({ model: 'plain', messages: USER });
    assert.equal(data.choices[0].message.content, lorem(5));
    //  The gateway sends the group's first model upstream.
    assert.equal((await mock.last()).json.model, 'mock-chat');
  });
});

describe('streaming', () => {
  const content = 'The quick brown fox jumps over the lazy dog — ½ ✓';
  const chunks = 9;

  async function collect(params) {
    const stream = await openai.chat.completions.create({ model: 'mock-chat', messages: USER, stream: true, ...params });
    const out = [];
    for await (const chunk of stream) out.push(chunk);
    return out;
  }

  test('every chunk in order, content and finish_reason; no usage chunk unless asked', async () => {
    const got = await collect({ mock: { content, chunks } });
    const last = await mock.last();
    //  The gateway asks the provider for usage on every stream (to meter it) ...
    assert.equal(last.json.stream, true);
    assert.deepEqual(last.json.stream_options, { include_usage: true });
    //  ... and the client, who did not ask, does not see it.
    assert.ok(got.every((c) => c.choices.length === 1), 'no usage-only chunk (choices: [])');
    assert.ok(got.every((c) => c.usage == null), 'no chunk carries usage');

    const ids = new Set(got.map((c) => c.id));
    assert.equal(ids.size, 1, 'one completion id across the stream');
    assert.ok(got.every((c) => c.object === 'chat.completion.chunk' && c.model === 'mock-chat'));
    assert.equal(got[0].choices[0].delta.role, 'assistant');
    const deltas = got.slice(1, -1).map((c) => c.choices[0].delta.content);
    assert.deepEqual(deltas, mockPieces(content, chunks), 'the deltas, in order, exactly as the mock split them');
    assert.equal(got.map((c) => c.choices[0].delta.content ?? '').join(''), content);
    assert.equal(got.at(-1).choices[0].finish_reason, 'stop');
    assert.ok(got.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
  });

  test('include_usage: the final chunk carries the provider\'s usage', async () => {
    const got = await collect({ mock: { content, chunks }, stream_options: { include_usage: true } });
    const last = await mock.last();
    assert.deepEqual(last.json.stream_options, { include_usage: true });
    const usageChunk = got.at(-1);
    assert.deepEqual(usageChunk.choices, []);
    const prompt = mockPromptTokens(last.body_bytes);
    assert.equal(usageChunk.usage.prompt_tokens, prompt);
    assert.equal(usageChunk.usage.completion_tokens, chunks);
    assert.equal(usageChunk.usage.total_tokens, prompt + chunks);
    assert.equal(got.at(-2).choices[0].finish_reason, 'stop');
    assert.equal(got.filter((c) => c.usage).length, 1, 'exactly one usage chunk');
    assert.equal(got.map((c) => c.choices[0]?.delta.content ?? '').join(''), content);
  });

  test('stream_options given without include_usage: still no usage reaches the client', async () => {
    const got = await collect({ mock: { chunks: 3 }, stream_options: { include_usage: false } });
    assert.deepEqual((await mock.last()).json.stream_options, { include_usage: true });
    assert.ok(got.every((c) => c.choices.length === 1 && c.usage == null));
    assert.equal(got.map((c) => c.choices[0].delta.content ?? '').join(''), lorem(3));
  });

  test('other stream_options fields reach the provider', async () => {
    const got = await collect({ mock: { chunks: 2 }, stream_options: { include_usage: false, include_obfuscation: false } });
    assert.equal(got.map((c) => c.choices[0].delta.content ?? '').join(''), lorem(2));
    assert.deepEqual((await mock.last()).json.stream_options, { include_usage: true, include_obfuscation: false });
  });

  test('a long stream (500 chunks) arrives complete', async () => {
    const got = await collect({ mock: { chunks: 500 } });
    assert.equal(got.length, 502);
    assert.equal(got.map((c) => c.choices[0].delta.content ?? '').join(''), lorem(500));
  });
});

describe('tools', () => {
  test('tools go upstream unchanged and tool_calls come back intact (JSON)', async () => {
    const data = await openai.chat.completions.create({
      model: 'mock-tools-valid',
      messages: USER,
      tools: [WEATHER_TOOL],
      tool_choice: 'auto',
    });
    const last = await mock.last();
    assert.deepEqual(last.json.tools, [WEATHER_TOOL]);
    assert.equal(last.json.tool_choice, 'auto');
    const choice = data.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.match(call.id, /^call_/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.equal(call.function.arguments, ARGS_VALID);
  });

  test('tool_calls stream through (raw chunks)', async () => {
    const stream = await openai.chat.completions.create({
      model: 'mock-chat',
      messages: USER,
      tools: [WEATHER_TOOL],
      stream: true,
      mock: { tool: 'valid', chunks: 6 },
    });
    const got = [];
    for await (const chunk of stream) got.push(chunk);
    const first = got[0].choices[0].delta.tool_calls[0];
    assert.equal(first.function.name, 'get_weather');
    assert.match(first.id, /^call_/);
    const pieces = got.slice(1, -1).map((c) => c.choices[0].delta.tool_calls[0].function.arguments);
    assert.deepEqual(pieces, mockPieces(ARGS_VALID, 6));
    assert.equal(got.at(-1).choices[0].finish_reason, 'tool_calls');
  });

  test('the SDK stream helper assembles a tool call (finalChatCompletion)', async () => {
    const runner = openai.chat.completions.stream({
      model: 'mock-chat',
      messages: USER,
      tools: [WEATHER_TOOL],
      stream_options: { include_usage: true },
      mock: { tool: 'valid', chunks: 8 },
    });
    const argDeltas = [];
    let done;
    //  The first chunk (id and name) carries arguments "": the SDK reports it too.
    runner.on('tool_calls.function.arguments.delta', (e) => e.arguments_delta && argDeltas.push(e.arguments_delta));
    runner.on('tool_calls.function.arguments.done', (e) => (done = e));
    const final = await runner.finalChatCompletion();
    const msg = final.choices[0].message;
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.tool_calls.length, 1);
    assert.equal(msg.tool_calls[0].function.name, 'get_weather');
    assert.equal(msg.tool_calls[0].function.arguments, ARGS_VALID);
    assert.deepEqual(argDeltas, mockPieces(ARGS_VALID, 8));
    assert.equal(done.name, 'get_weather');
    assert.equal(done.arguments, ARGS_VALID);
    const prompt = mockPromptTokens((await mock.last()).body_bytes);
    assert.deepEqual(final.usage && [final.usage.prompt_tokens, final.usage.completion_tokens], [prompt, 8]);
  });

  test('the SDK stream helper on text: content events and the final message', async () => {
    const runner = openai.chat.completions.stream({ model: 'mock-chat', messages: USER, mock: { chunks: 4 } });
    let text = '';
    runner.on('content', (delta) => (text += delta));
    const final = await runner.finalChatCompletion();
    assert.equal(text, lorem(4));
    assert.equal(final.choices[0].message.content, lorem(4));
    assert.equal(await runner.finalContent(), lorem(4));
  });

  test('a group with tool validation on: valid tool calls unchanged (JSON and stream)', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'checked-model', messages: USER, tools: [WEATHER_TOOL], mock: { tool: 'valid' } })
      .withResponse();
    assert.equal(data.choices[0].message.tool_calls[0].function.arguments, ARGS_VALID);
    //  The router says what its validator did, whatever the engine.
    assert.ok(response.headers.get('x-switchboard-tool-validation'), 'x-switchboard-tool-validation header');

    const final = await openai.chat.completions
      .stream({ model: 'checked-model', messages: USER, tools: [WEATHER_TOOL], mock: { tool: 'valid' } })
      .finalChatCompletion();
    assert.equal(final.choices[0].message.tool_calls[0].function.arguments, ARGS_VALID);
  });
});

test('40 concurrent requests (JSON and streams) each get their own answer', async () => {
  const jobs = Array.from({ length: 40 }, async (_, i) => {
    const content = `answer number ${i} ` + 'é'.repeat(i);
    const mockKnobs = { content, chunks: 1 + (i % 7), ttft_ms: (i * 37) % 200, gap_ms: i % 3 };
    if (i % 2) {
      const r = await openai.chat.completions.create({ model: 'mock-chat', messages: USER, mock: mockKnobs });
      return [content, r.choices[0].message.content];
    }
    const stream = await openai.chat.completions.create({ model: 'mock-chat', messages: USER, stream: true, mock: mockKnobs });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    return [content, text];
  });
  for (const [want, got] of await Promise.all(jobs)) assert.equal(got, want);
  const stats = await mock.waitStats((s) => s.active === 0);
  assert.equal(stats.cancelled, 0);
});

test('channel extras: model_map rewrites the model upstream, channel headers are sent', async () => {
  const s = await startStack(
    makeConfig({
      mock,
      channels: [{ name: 'mapped', model_map: { 'my-alias': 'mock-chat' }, headers: { 'openai-organization': 'org-e2e' } }],
      groups: [{ name: 'm', channels: ['mapped'], models: ['my-alias'] }],
      keys: [{ name: 'e2e', key: KEY, model_groups: ['m'] }],
    }),
  );
  try {
    const c = client(s);
    const r = await c.chat.completions.create({ model: 'my-alias', messages: USER, mock: { chunks: 2 } });
    assert.equal(r.choices[0].message.content, 'Lorem ipsum');
    let last = await mock.last();
    assert.equal(last.json.model, 'mock-chat');
    assert.equal(last.headers['openai-organization'], 'org-e2e');
    assert.equal(last.headers.authorization, 'Bearer sk-mapped');
    //  A stream needs both edits (model and stream_options); the rest of the body stays.
    const stream = await c.chat.completions.create({ model: 'my-alias', messages: USER, stream: true, temperature: 0.5, mock: { chunks: 2 } });
    let text = '';
    for await (const ch of stream) text += ch.choices[0]?.delta.content ?? '';
    assert.equal(text, 'Lorem ipsum');
    last = await mock.last();
    assert.deepEqual(last.json, {
      model: 'mock-chat',
      messages: USER,
      stream: true,
      temperature: 0.5,
      mock: { chunks: 2 },
      stream_options: { include_usage: true },
    });
  } finally {
    await s.stop();
  }
});

test('the client\'s x-request-id is echoed; one is made up otherwise', async () => {
  const { response } = await openai.chat.completions
    .create({ model: 'mock-chat', messages: USER }, { headers: { 'x-request-id': 'e2e-trace-123' } })
    .withResponse();
  assert.equal(response.headers.get('x-request-id'), 'e2e-trace-123');
  const a = await openai.chat.completions.create({ model: 'mock-chat', messages: USER }).withResponse();
  const b = await openai.chat.completions.create({ model: 'mock-chat', messages: USER }).withResponse();
  const ida = a.response.headers.get('x-request-id');
  const idb = b.response.headers.get('x-request-id');
  assert.ok(ida && idb && ida !== idb, `fresh ids differ: ${ida} ${idb}`);
});
