// validator.test.mjs — the validator pool under faults: a worker killed with
// SIGKILL in the middle of a job has that job retried on another worker inside
// the request's deadline; with no worker at all, the response passes through
// after the budget and says so (fail-open).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BIN, chat, start, startGateway, startMock, stop } from './stack.mjs';

const KEY = 'sb-validator-key';
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: {
  type: 'object', properties: { city: { type: 'string' }, max_items: { type: 'integer' } }, required: ['city'] } } }];
let mock;
before(async () => { mock = await startMock(); });
after(async () => { await stop(mock.child); });
const config = () => ({
  channels: [{ name: 'c', base_url: `${mock.url}/v1`, models: ['m'] }],
  model_groups: [{ name: 'g', channels: ['c'], models: ['m'], enable_tool_validation: true,
                   tool_validation_mode: 'auto_fix', timeout_seconds: 30 }],
  api_keys: [{ name: 'k', key: KEY, model_groups: ['g'] }],
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('kill -9 of a worker mid-job: the job is retried on another worker and the call comes back repaired', async () => {
  const gw = await startGateway(config(), { extraEnv: { SB_VALIDATOR_BUDGET_MS: '15000' } });
  const slow = await start('validator-slow', path.join(BIN, 'sb-validator'), [],
                           { ...gw.env, SB_VALIDATOR_THREADS: '1', SB_VALIDATOR_TEST_DELAY_MS: '20000' }, /validator:/);
  let healthy;
  try {
    await sleep(500); // the slow worker is READY at the broker
    const pending = chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'weather?' }], tools, mock: { tool: 'broken' } });
    await sleep(700); // the job is now inside the slow worker
    slow.kill('SIGKILL');
    healthy = await start('validator', path.join(BIN, 'sb-validator'), [], { ...gw.env, SB_VALIDATOR_THREADS: '1' }, /validator:/);
    const t0 = Date.now();
    const r = await pending;
    assert.equal(r.status, 200);
    assert.match(r.headers.get('x-switchboard-tool-validation'), /fixed=1/);
    const call = JSON.parse(r.text).choices[0].message.tool_calls[0];
    assert.equal(call.function.arguments, '{"city":"New York","max_items":10}');
    assert.ok(Date.now() - t0 < 10000, 'retried within the deadline, after the dead worker was noticed');
  } finally { await gw.close(); await stop(slow); if (healthy) await stop(healthy); }
});

test('no validator at all: the response passes through after the budget, unchanged, and says so; once the pool has been down a while, at once', async () => {
  const gw = await startGateway(config(), { extraEnv: { SB_VALIDATOR_BUDGET_MS: '300' } });
  try {
    const t0 = Date.now();
    const r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'weather?' }], tools, mock: { tool: 'broken' } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('x-switchboard-tool-validation'), /did not answer in time/);
    assert.equal(JSON.parse(r.text).choices[0].message.tool_calls[0].function.arguments, "{'city': 'New York', max_items: '10'}");
    assert.ok(Date.now() - t0 < 3000, 'the request waited about the budget, not its deadline');
    // Still no worker a few seconds on: the pool counts as down, and requests skip it
    // at once instead of each waiting out the budget.
    await new Promise((r) => setTimeout(r, 3200));
    const t1 = Date.now();
    const q = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'weather?' }], tools, mock: { tool: 'broken' } });
    const took = Date.now() - t1;
    assert.equal(q.status, 200);
    assert.match(q.headers.get('x-switchboard-tool-validation'), /no validator connected/);
    assert.equal(JSON.parse(q.text).choices[0].message.tool_calls[0].function.arguments, "{'city': 'New York', max_items: '10'}");
    assert.ok(took < 250, `passed through at once (${took} ms), not after the 300 ms budget`);
  } finally { await gw.close(); }
});
