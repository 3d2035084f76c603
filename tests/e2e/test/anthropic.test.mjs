//  Anthropic channels: the OpenAI client talks to the gateway, the gateway talks the
//  Messages API to sb-mock (POST /v1/messages) and translates everything back. Knobs
//  go in the channels' base_url (/x/...), since the body's "mock" object is not part of
//  the translated request.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import OpenAI from 'openai';

import { KEY, USER, WEATHER_TOOL, client, lorem, mockPromptTokens } from '../lib/fixtures.mjs';
import { makeConfig, startMock, startStack, stopAll } from '../lib/stack.mjs';

const ARGS = { city: 'New York', max_items: 10 };

let mock, stack, openai;

before(async () => {
  mock = await startMock();
  const an = (name, knobs, extra = {}) => ({ name, type: 'anthropic', api_key: `sk-ant-${name}`, knobs, ...extra });
  stack = await startStack(
    makeConfig({
      mock,
      channels: [
        an('text', 'chunks=4'),
        an('tool', 'tool=valid,chunks=5'),
        an('broken', 'tool=broken'),
        an('r429', 'status=429,retry_after=1'),
        an('r400', 'status=400'),
        an('r529', 'status=529', { priority: 1 }),
        { name: 'oai', priority: 2 },
      ],
      groups: [
        { name: 'a-text', channels: ['text'], models: ['claude-text'] },
        { name: 'a-tool', channels: ['tool'], models: ['claude-tool'] },
        { name: 'a-fix', channels: ['broken'], models: ['claude-fix'], enable_tool_validation: true, tool_validation_mode: 'auto_fix' },
        { name: 'a-429', channels: ['r429'], models: ['claude-429'] },
        { name: 'a-400', channels: ['r400'], models: ['claude-400'] },
        { name: 'a-fo', channels: ['r529', 'oai'], models: ['claude-fo'] },
      ],
      keys: [{ name: 'e2e', key: KEY, model_groups: ['a-text', 'a-tool', 'a-fix', 'a-429', 'a-400', 'a-fo'] }],
    }),
  );
  openai = client(stack);
});

after(() => stopAll(stack, mock));

describe('Anthropic channel', () => {
  test('JSON: request translated (system, max_tokens, headers), answer translated back', async () => {
    const r = await openai.chat.completions.create({
      model: 'claude-text',
      messages: [{ role: 'system', content: 'Be brief.' }, ...USER],
      temperature: 0.3,
    });
    const last = await mock.last();
    assert.equal(last.path, '/x/chunks=4/v1/messages');
    assert.equal(last.headers['x-api-key'], 'sk-ant-text');
    assert.equal(last.headers['anthropic-version'], '2023-06-01');
    assert.equal(last.headers.authorization, undefined, 'no OpenAI-style auth header');
    assert.equal(last.json.system, 'Be brief.');
    assert.equal(last.json.max_tokens, 4096);
    assert.equal(last.json.temperature, 0.3);
    assert.deepEqual(last.json.messages, [{ role: 'user', content: [{ type: 'text', text: USER[0].content }] }]);

    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, lorem(4));
    assert.equal(r.choices[0].finish_reason, 'stop');
    const prompt = mockPromptTokens(last.body_bytes);
    assert.deepEqual([r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens], [prompt, 4, prompt + 4]);
  });

  test('stream: OpenAI chunks, content, finish_reason and the usage chunk', async () => {
    const stream = await openai.chat.completions.create({
      model: 'claude-text',
      messages: USER,
      stream: true,
      stream_options: { include_usage: true },
    });
    const got = [];
    for await (const c of stream) got.push(c);
    const last = await mock.last();
    assert.equal(last.json.stream, true);
    assert.ok(got.every((c) => c.object === 'chat.completion.chunk'));
    assert.equal(new Set(got.map((c) => c.id)).size, 1);
    assert.equal(got[0].choices[0].delta.role, 'assistant');
    assert.equal(got.map((c) => c.choices[0]?.delta.content ?? '').join(''), lorem(4));
    assert.equal(got.at(-2).choices[0].finish_reason, 'stop');
    const prompt = mockPromptTokens(last.body_bytes);
    assert.deepEqual(got.at(-1).choices, []);
    assert.equal(got.at(-1).usage.prompt_tokens, prompt);
    assert.equal(got.at(-1).usage.completion_tokens, 4);
  });

  test('stream without include_usage: no usage chunk', async () => {
    const stream = await openai.chat.completions.create({ model: 'claude-text', messages: USER, stream: true });
    const got = [];
    for await (const c of stream) got.push(c);
    assert.ok(got.every((c) => c.choices.length === 1 && c.usage == null));
  });

  test('tools: translated to input_schema; tool_use comes back as tool_calls (JSON)', async () => {
    const r = await openai.chat.completions.create({ model: 'claude-tool', messages: USER, tools: [WEATHER_TOOL], tool_choice: 'required' });
    const last = await mock.last();
    assert.deepEqual(last.json.tools, [
      { name: 'get_weather', description: WEATHER_TOOL.function.description, input_schema: WEATHER_TOOL.function.parameters },
    ]);
    assert.deepEqual(last.json.tool_choice, { type: 'any' });
    const call = r.choices[0].message.tool_calls[0];
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.match(call.id, /^toolu_/);
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), ARGS);
  });

  test('tools in a stream: the SDK helper assembles the call', async () => {
    const final = await openai.chat.completions
      .stream({ model: 'claude-tool', messages: USER, tools: [WEATHER_TOOL] })
      .finalChatCompletion();
    const call = final.choices[0].message.tool_calls[0];
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), ARGS);
  });

  test('a tool result in the history becomes a tool_result block', async () => {
    await openai.chat.completions.create({
      model: 'claude-text',
      messages: [
        ...USER,
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
      ],
    });
    const msgs = (await mock.last()).json.messages;
    assert.deepEqual(msgs[1], { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] });
    assert.deepEqual(msgs[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] });
  });

  test('auto_fix works on Anthropic answers too (max_items "10" → 10)', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'claude-fix', messages: USER, tools: [WEATHER_TOOL] })
      .withResponse();
    const header = response.headers.get('x-switchboard-tool-validation');
    if (/unavailable/.test(header || '')) return; // engine not there yet: nothing to check
    assert.equal(header, 'mode=auto_fix; valid=0; fixed=1; invalid=0');
    assert.deepEqual(JSON.parse(data.choices[0].message.tool_calls[0].function.arguments), ARGS);
  });

  test('n > 1 is refused with a 400 before any call', async () => {
    const before = (await mock.stats()).requests;
    await assert.rejects(openai.chat.completions.create({ model: 'claude-text', messages: USER, n: 2 }), OpenAI.BadRequestError);
    assert.equal((await mock.stats()).requests, before);
  });
});

describe('Anthropic errors', () => {
  test('400 → BadRequestError with the provider\'s message', async () => {
    const err = await openai.chat.completions.create({ model: 'claude-400', messages: USER }).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.error.message, 'sb-mock: injected HTTP 400');
  });

  test('429 → RateLimitError', async () => {
    const err = await openai.chat.completions.create({ model: 'claude-429', messages: USER }).catch((e) => e);
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.status, 429);
    assert.equal(err.headers.get('retry-after'), '1');
  });

  test('the 429\'s message is text, not an embedded JSON error', async () => {
    const err = await openai.chat.completions.create({ model: 'claude-429', messages: USER }).catch((e) => e);
    assert.doesNotMatch(err.error.message, /\{"error"/);
    assert.match(err.error.message, /sb-mock: injected HTTP 429/);
  });

  test('529 overloaded → fails over to the next channel (an OpenAI one)', async () => {
    const before = await mock.stats();
    const r = await openai.chat.completions.create({ model: 'claude-fo', messages: USER, mock: { chunks: 2 } });
    assert.equal(r.choices[0].message.content, 'Lorem ipsum');
    const after = await mock.stats();
    assert.equal(after.requests - before.requests, 2);
    assert.equal((await mock.last()).path, '/v1/chat/completions');
  });
});
