//  The compose stack seen by the official openai client (tests/compose/run.sh runs it).
//    node client.mjs demo BASE_URL          JSON + streamed completions of demo-chat and
//                                           demo-tools; the broken tool call comes back fixed
//    node client.mjs load BASE_URL N C      N demo-tools requests with tools, C at a time
//  Prints one line per check; exits non-zero on the first failure.

import assert from 'node:assert/strict';
import OpenAI from 'openai';

const [, , mode, baseURL, nArg, cArg] = process.argv;
if (!mode || !baseURL) {
  console.error('usage: node client.mjs demo|load BASE_URL [N CONCURRENCY]');
  process.exit(2);
}

const openai = new OpenAI({ apiKey: 'sb-demo', baseURL, maxRetries: 0, timeout: 30000 });
const USER = [{ role: 'user', content: 'What is the weather in New York?' }];
//  The tool the request declares: the schema AutoFix repairs the mock's call against.
const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, max_items: { type: 'integer' } },
      },
    },
  },
];
const FIXED = { city: 'New York', max_items: 10 };

function ok(what) {
  console.log(`ok: ${what}`);
}

async function demo() {
  //  demo-chat, JSON.
  {
    const { data, response } = await openai.chat.completions
      .create({ model: 'demo-chat', messages: USER })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'demo-chat');
    const text = data.choices[0].message.content;
    assert.ok(typeof text === 'string' && text.length > 0, 'demo-chat returns text');
    assert.ok(data.usage && data.usage.total_tokens > 0, 'usage present');
    ok(`demo-chat JSON: ${JSON.stringify(text.slice(0, 40))}… via ${response.headers.get('x-switchboard-channel')}`);
  }

  //  demo-chat, streamed.
  {
    const stream = await openai.chat.completions.create({ model: 'demo-chat', messages: USER, stream: true });
    let text = '';
    let chunks = 0;
    let finish = null;
    for await (const chunk of stream) {
      chunks++;
      const choice = chunk.choices[0];
      if (choice?.delta?.content) text += choice.delta.content;
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    assert.ok(chunks > 1, `several chunks (got ${chunks})`);
    assert.ok(text.length > 0, 'streamed text');
    assert.equal(finish, 'stop');
    ok(`demo-chat stream: ${chunks} chunks, ${text.length} chars, finish_reason=stop`);
  }

  //  demo-tools, JSON: the mock's broken arguments come back repaired.
  {
    const { data, response } = await openai.chat.completions
      .create({ model: 'demo-tools', messages: USER, tools: TOOLS })
      .withResponse();
    assert.equal(response.status, 200);
    const header = response.headers.get('x-switchboard-tool-validation');
    assert.ok(header, 'x-switchboard-tool-validation header present');
    assert.match(header, /mode=auto_fix/);
    assert.match(header, /fixed=1/);
    const calls = data.choices[0].message.tool_calls;
    assert.equal(calls?.length, 1, 'one tool call');
    assert.equal(calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(calls[0].function.arguments), FIXED);
    assert.equal(data.choices[0].finish_reason, 'tool_calls');
    ok(`demo-tools JSON: x-switchboard-tool-validation: ${header}; arguments ${calls[0].function.arguments}`);
  }

  //  demo-tools, streamed: argument deltas are held, repaired and released.
  {
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'demo-tools', messages: USER, tools: TOOLS, stream: true })
      .withResponse();
    assert.equal(response.status, 200);
    const calls = [];
    let finish = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      for (const d of choice?.delta?.tool_calls ?? []) {
        calls[d.index] ??= { name: '', arguments: '' };
        if (d.function?.name) calls[d.index].name += d.function.name;
        if (d.function?.arguments) calls[d.index].arguments += d.function.arguments;
      }
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    assert.equal(calls.length, 1, 'one streamed tool call');
    assert.equal(calls[0].name, 'get_weather');
    assert.deepEqual(JSON.parse(calls[0].arguments), FIXED);
    assert.equal(finish, 'tool_calls');
    const header = response.headers.get('x-switchboard-tool-validation');
    ok(`demo-tools stream: arguments ${calls[0].arguments}${header ? `; header: ${header}` : ''}`);
  }

  //  /v1/models lists the demo models.
  {
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    assert.ok(ids.includes('demo-chat') && ids.includes('demo-tools'), `models: ${ids.join(', ')}`);
    ok(`models: ${ids.join(', ')}`);
  }
}

async function load(n, concurrency) {
  let next = 0;
  let fixed = 0;
  const failures = [];
  const started = Date.now();
  async function worker() {
    while (next < n) {
      next++;
      try {
        const { data, response } = await openai.chat.completions
          .create({ model: 'demo-tools', messages: USER, tools: TOOLS })
          .withResponse();
        const args = JSON.parse(data.choices[0].message.tool_calls[0].function.arguments);
        assert.deepEqual(args, FIXED);
        if (/fixed=1/.test(response.headers.get('x-switchboard-tool-validation') ?? '')) fixed++;
      } catch (e) {
        failures.push(e.message);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = Date.now() - started;
  if (failures.length) {
    console.error(`FAIL: ${failures.length} of ${n} requests failed; first: ${failures[0]}`);
    process.exit(1);
  }
  assert.equal(fixed, n, `every tool call fixed by a validator (fixed=${fixed} of ${n})`);
  ok(`${n} tool-call requests (${concurrency} at a time) in ${ms} ms, every call fixed`);
}

try {
  if (mode === 'demo') await demo();
  else if (mode === 'load') await load(Number(nArg ?? 200), Number(cArg ?? 32));
  else throw new Error(`unknown mode ${mode}`);
} catch (e) {
  console.error(`FAIL: ${e.stack ?? e}`);
  process.exit(1);
}
