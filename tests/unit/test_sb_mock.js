#!/usr/bin/env node
// Black-box test of sb-mock: starts it on a free port (--port 0, the port read from its
// "sb-mock listening on http://HOST:PORT" line) and checks every endpoint and knob over
// HTTP: OpenAI JSON and SSE shapes, timing of streamed chunks, tool calls, failures
// (status, retry-after, fail_rate, reset, hang, drop_after, error_after), knob sources
// and their order, Anthropic shapes, keep-alive, bounds, /_mock/ stats and last.
// Usage: node tests/unit/test_sb_mock.js path/to/sb-mock
'use strict';

const { spawn, spawnSync } = require('child_process');
const http = require('http');
const assert = require('assert');

const BIN = process.argv[2] || 'build/bin/sb-mock';
const ARGS_BROKEN = "{'city': 'New York', max_items: '10'}";
const ARGS_VALID = '{"city":"New York","max_items":10}';

let checks = 0;
let failures = 0;

function check(cond, what, detail) {
  checks++;
  if (!cond) {
    failures++;
    console.error(`FAIL ${what}${detail !== undefined ? ': ' + JSON.stringify(detail) : ''}`);
  }
}

function eq(actual, expected, what) {
  check(JSON.stringify(actual) === JSON.stringify(expected), what, { actual, expected });
}

// Starts sb-mock with extra args; resolves { proc, port, base } once it listens.
function startMock(extra = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('sb-mock did not start: ' + out)), 5000);
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`sb-mock exited early (${code}): ${out}`)));
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/sb-mock listening on http:\/\/([0-9.]+):(\d+)\n/);
      if (m) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        const port = Number(m[2]);
        resolve({ proc, port, base: `http://127.0.0.1:${port}` });
      }
    });
  });
}

// One request. Resolves { status, headers, body, complete, error, chunks: [{t, text}],
// events: [{t, event, data}] (SSE), socketReused, t0 }; never rejects.
function request(base, method, path, opts = {}) {
  return new Promise((resolve) => {
    const body = opts.body === undefined ? undefined
      : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers = Object.assign({ 'content-type': 'application/json' }, opts.headers || {});
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    const url = new URL(path, base);
    const t0 = Date.now();
    const result = { status: 0, headers: {}, body: '', complete: false, error: null,
                     chunks: [], events: [], t0 };
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      result.events = parseSse(result.chunks);
      resolve(result);
    };
    const req = http.request({ method, hostname: url.hostname, port: url.port,
                               path: url.pathname + url.search, headers,
                               agent: opts.agent || false }, (res) => {
      result.status = res.statusCode;
      result.headers = res.headers;
      result.socketReused = req.reusedSocket;
      res.setEncoding('utf8');
      res.on('data', (d) => {
        result.body += d;
        result.chunks.push({ t: Date.now() - t0, text: d });
      });
      res.on('end', () => { result.complete = res.complete; finish(); });
      res.on('aborted', () => { result.error = result.error || 'aborted'; });
      res.on('error', (e) => { result.error = result.error || e.code || e.message; });
      res.on('close', () => { result.complete = res.complete; finish(); });
    });
    req.on('error', (e) => { result.error = result.error || e.code || e.message; finish(); });
    if (opts.timeout) {
      req.setTimeout(opts.timeout, () => { result.error = 'timeout'; req.destroy(); });
    }
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// SSE events with the time the chunk that completed them arrived.
function parseSse(chunks) {
  const events = [];
  let buf = '';
  for (const c of chunks) {
    buf += c.text;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = null;
      let data = null;
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data = line.slice(6);
      }
      let parsed = data;
      try { parsed = JSON.parse(data); } catch (e) { /* [DONE] */ }
      events.push({ t: c.t, event, data: parsed });
    }
  }
  return events;
}

function json(r) {
  try { return JSON.parse(r.body); } catch (e) { return null; }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function stats(base) {
  return json(await request(base, 'GET', '/_mock/stats'));
}

// Polls stats until pred holds (the mock sees a client's close a moment later).
async function waitStats(base, pred, ms = 3000) {
  const until = Date.now() + ms;
  let s = await stats(base);
  while (!pred(s) && Date.now() < until) {
    await sleep(25);
    s = await stats(base);
  }
  return s;
}

const CHAT = '/v1/chat/completions';
const MSGS = '/v1/messages';
const hello = { model: 'demo-chat', messages: [{ role: 'user', content: 'Hello there' }] };

async function testOpenAiJson(base) {
  console.log('openai JSON: shape, usage, model echo, keep-alive');
  const body = JSON.stringify(hello);
  const r = await request(base, 'POST', CHAT, { body });
  eq(r.status, 200, 'status 200');
  check(/^application\/json/.test(r.headers['content-type']), 'content-type json');
  eq(Number(r.headers['content-length']), Buffer.byteLength(r.body), 'content-length');
  const j = json(r);
  check(/^chatcmpl-[A-Za-z0-9]{29}$/.test(j.id), 'id chatcmpl-...', j.id);
  eq(j.object, 'chat.completion', 'object');
  check(Number.isInteger(j.created) && Math.abs(j.created - Date.now() / 1000) < 60, 'created');
  eq(j.model, 'demo-chat', 'model echoed');
  eq(j.choices.length, 1, 'one choice');
  const c = j.choices[0];
  eq([c.index, c.finish_reason, c.logprobs], [0, 'stop', null], 'choice fields');
  eq(c.message.role, 'assistant', 'role');
  eq(c.message.content, 'Lorem ipsum dolor sit amet', 'default content');
  const prompt = Math.ceil(Buffer.byteLength(body) / 4);
  eq([j.usage.prompt_tokens, j.usage.completion_tokens, j.usage.total_tokens],
     [prompt, 5, prompt + 5], 'usage');

  const models = json(await request(base, 'GET', '/v1/models'));
  eq(models.object, 'list', 'models list');
  eq(models.data.map((m) => m.id),
     ['demo-chat', 'demo-tools', 'mock-chat', 'mock-tools', 'mock-tools-valid', 'mock-slow'],
     'model names');

  // Keep-alive: five requests on one socket.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const reused = [];
  for (let i = 0; i < 5; i++) {
    const k = await request(base, 'POST', CHAT, { body: hello, agent });
    eq(k.status, 200, 'keep-alive status');
    reused.push(k.socketReused);
  }
  const g = await request(base, 'GET', '/v1/models', { agent });
  reused.push(g.socketReused);
  eq(reused, [false, true, true, true, true, true], 'one socket reused (HTTP/1.1 keep-alive)');
  agent.destroy();
}

async function testOpenAiStream(base) {
  console.log('openai stream: chunks over time, gaps, include_usage, usage null');
  const r = await request(base, 'POST', CHAT, {
    body: { model: 'mock-chat', messages: [], stream: true,
            stream_options: { include_usage: true },
            mock: { chunks: 4, ttft_ms: 150, gap_ms: 200 } },
  });
  eq(r.status, 200, 'stream status');
  check(/^text\/event-stream/.test(r.headers['content-type']), 'content-type SSE');
  eq(r.headers['transfer-encoding'], 'chunked', 'chunked');
  check(r.complete, 'stream complete');
  const ev = r.events;
  eq(ev.length, 8, 'role + 4 pieces + finish + usage + [DONE]');
  const d = ev.map((e) => e.data);
  eq(d[0].choices[0].delta.role, 'assistant', 'first chunk has the role');
  eq(d.slice(1, 5).map((x) => x.choices[0].delta.content), ['Lorem', ' ipsum', ' dolor', ' sit'],
     'pieces');
  eq(d[5].choices[0].finish_reason, 'stop', 'finish_reason stop');
  eq(d[5].choices[0].delta, {}, 'finish delta empty');
  check(d.slice(0, 6).every((x) => x.usage === null), 'usage null before the last chunk');
  eq(d[6].choices, [], 'usage chunk has no choices');
  eq(d[6].usage.completion_tokens, 4, 'usage completion_tokens');
  eq(d[7], '[DONE]', '[DONE]');
  check(d.slice(0, 7).every((x) => x.object === 'chat.completion.chunk' && x.id === d[0].id),
        'chunk object and one id');
  // Timing: first chunk after ttft, pieces gap apart, really streamed (not buffered).
  const t = ev.map((e) => e.t);
  check(t[0] >= 130, 'first chunk after ttft_ms', t);
  for (let i = 2; i <= 4; i++) {
    const gap = t[i] - t[i - 1];
    check(gap >= 170 && gap < 600, `gap between pieces ${i - 1} and ${i}`, gap);
  }
  check(t[4] - t[1] >= 3 * 170, 'pieces spread over time', t);
  check(r.chunks.length >= 4, 'received in several reads', r.chunks.length);

  // Without include_usage there is no usage key and no usage chunk.
  const n = await request(base, 'POST', CHAT, { body: { model: 'm', messages: [], stream: true } });
  eq(n.events.length, 8, 'role + 5 pieces + finish + [DONE], no usage chunk');
  check(n.events.slice(0, 7).every((e) => !('usage' in e.data)), 'no usage key');
}

async function testTools(base) {
  console.log('tools: broken and valid, JSON and streamed, first tool name');
  const tools = [{ type: 'function', function: { name: 'lookup_city', parameters: {} } }];
  for (const [knob, expected] of [['broken', ARGS_BROKEN], ['valid', ARGS_VALID]]) {
    const r = json(await request(base, 'POST', CHAT, {
      body: { model: 'mock-chat', messages: [], tools }, headers: { 'x-mock-tool': knob } }));
    const c = r.choices[0];
    eq(c.finish_reason, 'tool_calls', `${knob} JSON finish_reason`);
    eq(c.message.content, null, `${knob} JSON content null`);
    const call = c.message.tool_calls[0];
    check(/^call_[A-Za-z0-9]{24}$/.test(call.id), `${knob} call id`, call.id);
    eq([call.type, call.function.name, call.function.arguments],
       ['function', 'lookup_city', expected], `${knob} JSON tool call`);
    eq(r.usage.completion_tokens, 5, `${knob} completion_tokens = argument pieces`);

    const s = await request(base, 'POST', CHAT, {
      body: { model: 'mock-chat', messages: [], tools, stream: true, mock: { chunks: 6 } },
      headers: { 'x-mock-tool': knob } });
    const d = s.events.map((e) => e.data);
    const first = d[0].choices[0].delta.tool_calls[0];
    eq([first.index, first.type, first.function.name, first.function.arguments],
       [0, 'function', 'lookup_city', ''], `${knob} stream first tool_calls delta`);
    check(/^call_/.test(first.id), `${knob} stream call id`);
    const pieces = d.slice(1, 7).map((x) => x.choices[0].delta.tool_calls[0].function.arguments);
    eq(pieces.length, 6, `${knob} stream pieces`);
    eq(pieces.join(''), expected, `${knob} stream reassembled arguments`);
    eq(d[7].choices[0].finish_reason, 'tool_calls', `${knob} stream finish_reason`);
    eq(d[8], '[DONE]', `${knob} stream [DONE]`);
  }
  // Model defaults: demo-tools → broken (default tool name), mock-tools-valid → valid.
  const dt = json(await request(base, 'POST', CHAT, { body: { model: 'demo-tools', messages: [] } }));
  eq(dt.choices[0].message.tool_calls[0].function, { name: 'get_weather', arguments: ARGS_BROKEN },
     'demo-tools default');
  const mv = json(await request(base, 'POST', CHAT, {
    body: { model: 'mock-tools-valid', messages: [] } }));
  eq(mv.choices[0].message.tool_calls[0].function.arguments, ARGS_VALID, 'mock-tools-valid');
  const none = json(await request(base, 'POST', CHAT, {
    body: { model: 'demo-tools', messages: [], mock: { tool: 'none' } } }));
  eq(none.choices[0].message.content, 'Lorem ipsum dolor sit amet', 'tool=none overrides model');
}

async function testFailures(base) {
  console.log('failures: status, retry-after, fail_rate, reset, hang, drop_after, error_after');
  const r = await request(base, 'POST', CHAT, {
    body: hello, headers: { 'x-mock-status': '429', 'x-mock-retry-after': '7' } });
  eq(r.status, 429, 'status 429');
  eq(r.headers['retry-after'], '7', 'Retry-After');
  const e = json(r).error;
  check(e && typeof e.message === 'string' && typeof e.type === 'string' && 'code' in e,
        'OpenAI error body', json(r));
  const s503 = await request(base, 'POST', CHAT, { body: { ...hello, mock: { status: 503 } } });
  eq([s503.status, json(s503).error.type], [503, 'server_error'], 'status 503');

  // fail_rate 0.5 on a channel: every other request, starting with the first.
  const chan = '/x/status=502,fail_rate=0.5/v1/chat/completions';
  const codes = [];
  for (let i = 0; i < 6; i++) codes.push((await request(base, 'POST', chan, { body: hello })).status);
  eq(codes, [502, 200, 502, 200, 502, 200], 'fail_rate=0.5 deterministic');
  // Another channel has its own sequence; fail_rate alone gives 500.
  const other = [];
  for (let i = 0; i < 4; i++) {
    other.push((await request(base, 'POST', '/x/fail_rate=0.25/v1/chat/completions',
                              { body: hello })).status);
  }
  eq(other, [500, 200, 200, 200], 'fail_rate=0.25 alone → 500 once in 4');
  // Seeded: the same seed gives the same sequence after a reset.
  const seeded = async () => {
    const out = [];
    for (let i = 0; i < 12; i++) {
      out.push((await request(base, 'POST', '/x/fail_rate=0.5,seed=7/v1/chat/completions',
                              { body: hello })).status);
    }
    return out;
  };
  const s1 = await seeded();
  await request(base, 'POST', '/_mock/reset');
  const s2 = await seeded();
  eq(s1, s2, 'seeded sequence repeats after reset');
  check(s1.includes(500) && s1.includes(200), 'seeded sequence mixes', s1);

  const reset = await request(base, 'POST', '/x/reset/v1/chat/completions', { body: hello });
  eq([reset.status, reset.error], [0, 'ECONNRESET'], 'reset: connection reset, no response');

  const hang = await request(base, 'POST', CHAT, {
    body: hello, headers: { 'x-mock-hang': 'true' }, timeout: 400 });
  eq([hang.status, hang.error], [0, 'timeout'], 'hang: no answer');
  check(Date.now() - hang.t0 >= 390, 'hang lasted until the client gave up');

  const dj = await request(base, 'POST', CHAT, { body: { ...hello, mock: { drop_after: 1 } } });
  eq(dj.status, 200, 'drop_after JSON: headers sent');
  check(!dj.complete && dj.body.length > 0 &&
        dj.body.length === Math.floor(Number(dj.headers['content-length']) / 2),
        'drop_after JSON: half the body, then closed', [dj.body.length, dj.headers['content-length']]);

  const ds = await request(base, 'POST', CHAT, {
    body: { model: 'm', messages: [], stream: true }, headers: { 'x-mock-drop-after': '2' } });
  check(!ds.complete, 'drop_after stream: incomplete');
  eq(ds.events.length, 3, 'drop_after stream: role + 2 pieces');
  check(!ds.events.some((x) => x.data === '[DONE]'), 'drop_after stream: no [DONE]');

  const ea = await request(base, 'POST', CHAT, {
    body: { model: 'm', messages: [], stream: true, mock: { error_after: 1 } } });
  check(ea.complete, 'error_after: stream ends cleanly');
  eq(ea.events.length, 3, 'error_after: role + 1 piece + error');
  check(ea.events[2].data.error && ea.events[2].data.error.type === 'server_error',
        'error_after: error event', ea.events[2]);
}

async function testKnobSources(base) {
  console.log('knob sources: prefix, headers, body; later wins; bad knobs are 400');
  const pre = '/x/content=from%20prefix,chunks=2/v1/chat/completions';
  let j = json(await request(base, 'POST', pre, { body: hello }));
  eq(j.choices[0].message.content, 'from prefix', 'prefix content (URL-decoded)');
  eq(j.usage.completion_tokens, 2, 'prefix chunks');
  j = json(await request(base, 'POST', pre, { body: hello, headers: { 'x-mock-content': 'hdr' } }));
  eq(j.choices[0].message.content, 'hdr', 'header beats prefix');
  j = json(await request(base, 'POST', pre, {
    body: { ...hello, mock: { content: 'body wins', chunks: 3 } },
    headers: { 'X-Mock-Content': 'hdr' } }));
  eq(j.choices[0].message.content, 'body wins', 'body beats header');
  eq(j.usage.completion_tokens, 3, 'body chunks');
  // Model default (demo-tools → broken) loses to every source.
  j = json(await request(base, 'POST', '/x/tool=valid/v1/chat/completions', {
    body: { model: 'demo-tools', messages: [] } }));
  eq(j.choices[0].message.tool_calls[0].function.arguments, ARGS_VALID, 'prefix beats model');

  // Latency from the prefix (base_url style, no /v1 twice).
  const t0 = Date.now();
  const lat = await request(base, 'POST', '/x/latency_ms=300/v1/chat/completions', { body: hello });
  check(lat.status === 200 && Date.now() - t0 >= 290, 'latency_ms delays the answer', Date.now() - t0);

  const bad = await request(base, 'POST', '/x/nope=1/v1/chat/completions', { body: hello });
  eq(bad.status, 400, 'unknown knob: 400');
  check(/unknown mock knob 'nope'/.test(json(bad).error.message), 'unknown knob message');
  const range = await request(base, 'POST', CHAT, { body: hello, headers: { 'x-mock-chunks': '-1' } });
  eq(range.status, 400, 'out-of-range knob: 400');
}

async function testAnthropic(base) {
  console.log('anthropic: JSON with a tool, stream event sequence, errors');
  const tools = [{ name: 'get_stock', description: 'd', input_schema: { type: 'object' } }];
  const body = { model: 'claude-test', max_tokens: 256, messages: [{ role: 'user', content: 'hi' }] };
  const headers = { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' };
  let r = await request(base, 'POST', MSGS, { body, headers });
  let j = json(r);
  eq(r.status, 200, 'messages 200');
  check(/^msg_01[A-Za-z0-9]{22}$/.test(j.id), 'msg id', j.id);
  eq([j.type, j.role, j.model, j.stop_reason, j.stop_sequence],
     ['message', 'assistant', 'claude-test', 'end_turn', null], 'message fields');
  eq(j.content, [{ type: 'text', text: 'Lorem ipsum dolor sit amet' }], 'text content');
  eq(j.usage.output_tokens, 5, 'output_tokens');
  check(Number.isInteger(j.usage.input_tokens), 'input_tokens');

  r = await request(base, 'POST', MSGS, { body: { ...body, tools, mock: { tool: 'valid' } }, headers });
  j = json(r);
  eq(j.stop_reason, 'tool_use', 'tool stop_reason');
  const block = j.content[0];
  check(/^toolu_01/.test(block.id), 'toolu id', block.id);
  eq([block.type, block.name, block.input], ['tool_use', 'get_stock', JSON.parse(ARGS_VALID)],
     'tool_use block');

  const s = await request(base, 'POST', MSGS, {
    body: { ...body, tools, stream: true, mock: { tool: 'broken', chunks: 4 } }, headers });
  check(/^text\/event-stream/.test(s.headers['content-type']), 'anthropic SSE content-type');
  eq(s.events.map((e) => e.event),
     ['message_start', 'content_block_start', 'ping', 'content_block_delta',
      'content_block_delta', 'content_block_delta', 'content_block_delta',
      'content_block_stop', 'message_delta', 'message_stop'], 'event sequence');
  check(s.events.every((e) => e.data.type === e.event), 'data.type matches event name');
  const start = s.events[0].data.message;
  eq([start.role, start.content, start.stop_reason, start.model],
     ['assistant', [], null, 'claude-test'], 'message_start');
  eq(s.events[1].data.content_block.type, 'tool_use', 'tool_use block start');
  eq(s.events[1].data.content_block.input, {}, 'block start input empty');
  const partial = s.events.slice(3, 7).map((e) => {
    eq(e.data.delta.type, 'input_json_delta', 'input_json_delta');
    return e.data.delta.partial_json;
  });
  eq(partial.join(''), ARGS_BROKEN, 'reassembled partial_json');
  eq(s.events[8].data.delta.stop_reason, 'tool_use', 'message_delta stop_reason');
  eq(s.events[8].data.usage.output_tokens, 4, 'message_delta usage');

  const t = await request(base, 'POST', MSGS, { body: { ...body, stream: true }, headers });
  eq(t.events[3].data.delta, { type: 'text_delta', text: 'Lorem' }, 'text_delta');

  const e = await request(base, 'POST', MSGS, {
    body: { ...body, stream: true, mock: { error_after: 2 } } });
  const last = e.events[e.events.length - 1];
  eq([last.event, last.data.type, last.data.error.type], ['error', 'error', 'overloaded_error'],
     'error event');

  const err = await request(base, 'POST', MSGS, { body, headers: { 'x-mock-status': '429',
                                                                  'x-mock-retry-after': '2' } });
  eq([err.status, err.headers['retry-after']], [429, '2'], 'anthropic 429');
  eq(json(err), { type: 'error', error: { type: 'rate_limit_error',
                                          message: 'sb-mock: injected HTTP 429' } },
     'anthropic error shape');
  const inv = await request(base, 'POST', MSGS, { body: { model: 'c', messages: [] } });
  eq([inv.status, json(inv).error.type], [400, 'invalid_request_error'], 'missing max_tokens');
}

async function testControl(base) {
  console.log('control: /_mock/last, stats, cancelled on client abort, reset, 404/405/411');
  await request(base, 'POST', '/x/chunks=1/v1/chat/completions', {
    body: { model: 'mapped-model', messages: [], stream: true,
            stream_options: { include_usage: true } },
    headers: { authorization: 'Bearer sk-upstream', 'x-api-key': 'k1', 'x-mock-gap-ms': '0' } });
  const last = json(await request(base, 'GET', '/_mock/last'));
  eq([last.method, last.path], ['POST', '/x/chunks=1/v1/chat/completions'], 'last method/path');
  eq(last.headers.authorization, 'Bearer sk-upstream', 'last Authorization');
  eq(last.headers['x-api-key'], 'k1', 'last x-api-key');
  eq(last.headers['x-mock-gap-ms'], '0', 'last x-mock header');
  eq(last.json.model, 'mapped-model', 'last body model');
  eq(last.json.stream_options, { include_usage: true }, 'last body stream_options');
  eq(JSON.parse(last.body), last.json, 'last body text');

  await request(base, 'POST', '/_mock/reset');
  let s = await stats(base);
  eq([s.requests, s.completed, s.cancelled, s.active], [0, 0, 0, 0], 'reset zeroes');
  eq((await request(base, 'GET', '/_mock/last')).status, 404, 'reset clears last');

  // curl gives up mid-stream: the mock counts a cancelled response.
  const url = `${base}/v1/chat/completions`;
  const body = JSON.stringify({ model: 'm', messages: [], stream: true,
                                mock: { chunks: 20, gap_ms: 200 } });
  const c = spawnSync('curl', ['-s', '-N', '--max-time', '1', '-H', 'content-type: application/json',
                               '-d', body, url], { encoding: 'utf8' });
  eq(c.status, 28, 'curl timed out (exit 28)');
  check((c.stdout.match(/^data: /gm) || []).length >= 3, 'curl got part of the stream');
  s = await waitStats(base, (x) => x.cancelled >= 1 && x.active === 0);
  eq([s.requests, s.cancelled, s.active], [1, 1, 0], 'stats.cancelled after curl --max-time');

  // The hang above-style case: the client's close is what ends it.
  await request(base, 'POST', CHAT, { body: hello, headers: { 'x-mock-hang': '1' }, timeout: 200 });
  s = await waitStats(base, (x) => x.cancelled >= 2);
  eq(s.cancelled, 2, 'hang cancelled by the client');
  await request(base, 'POST', CHAT, { body: hello });
  await request(base, 'POST', '/x/reset/v1/chat/completions', { body: hello });
  s = await stats(base);
  eq([s.requests, s.completed, s.dropped, s.active], [4, 1, 1, 0], 'stats counts');
  eq(s.by_path['/v1/chat/completions'], 4, 'by_path');

  eq((await request(base, 'GET', '/v1/nothing')).status, 404, '404 unknown path');
  eq((await request(base, 'GET', CHAT)).status, 405, '405 wrong method');
  const chunked = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}',
                                     '-H', 'Transfer-Encoding: chunked', '-d', '{}', url],
                            { encoding: 'utf8' });
  eq(chunked.stdout, '411', 'chunked request body: 411');
}

async function testBounds() {
  console.log('bounds: request body over --max-body gets 413, connection still usable');
  const m = await startMock(['--max-body', '2048']);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const big = { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(5000) }] };
    const r = await request(m.base, 'POST', CHAT, { body: big, agent });
    eq(r.status, 413, '413 over max-body');
    check(/over 2048 bytes/.test(json(r).error.message), '413 message');
    const ok = await request(m.base, 'POST', CHAT, { body: hello, agent });
    eq([ok.status, ok.socketReused], [200, true], 'same connection serves the next request');
    agent.destroy();
  } finally {
    m.proc.kill('SIGTERM');
  }
  const code = await new Promise((resolve) => m.proc.on('exit', (c) => resolve(c)));
  eq(code, 0, 'SIGTERM: clean exit');
}

async function main() {
  const m = await startMock();
  console.log(`sb-mock on ${m.base}`);
  try {
    await testOpenAiJson(m.base);
    await testOpenAiStream(m.base);
    await testTools(m.base);
    await testFailures(m.base);
    await testKnobSources(m.base);
    await testAnthropic(m.base);
    await testControl(m.base);
    await testBounds();
  } catch (e) {
    failures++;
    console.error('FAIL exception:', e && e.stack);
  } finally {
    m.proc.kill('SIGTERM');
  }
  console.log(`${checks} checks, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}

main();
