// records.test.mjs — the record plane under faults: Redis stopped for 30 s under
// steady load loses no record and duplicates none; the logger being down does not
// touch the data path; garbage on the services' sockets is counted and dropped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BIN, chat, freePort, start, startGateway, startMock, stop } from './stack.mjs';

const KEY = 'sb-records';
const DOWN_S = Number(process.env.SB_REDIS_DOWN_S || 30);
let mock;
before(async () => { mock = await startMock(); });
after(async () => { await stop(mock.child); });

function config() {
  return {
    channels: [{ name: 'c', base_url: `${mock.url}/v1`, models: ['m'] }],
    model_groups: [{ name: 'g', channels: ['c'], models: ['m'] }],
    api_keys: [{ name: 'k', key: KEY, model_groups: ['g'] }],
  };
}

async function startRedis(port, dir) {
  return start(`redis:${port}`, 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''],
    {}, /Ready to accept connections/);
}
const redis = (port, ...args) => execFileSync('redis-cli', ['-p', String(port), ...args]).toString().trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test(`Redis down for ${DOWN_S} s under steady load: every record arrives, none twice`, { timeout: (DOWN_S + 90) * 1000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-redis-'));
  const rport = await freePort();
  let rs = await startRedis(rport, dir);
  const gw = await startGateway(config(), { logger: { SB_REDIS_URL: `redis://127.0.0.1:${rport}` } });
  try {
    const ids = [];
    let failures = 0;
    let running = true;
    const load = (async () => {
      let i = 0;
      while (running) {
        const id = `rec-${process.pid}-${i++}`;
        const stream = i % 3 === 0;
        const r = await chat(gw.base, KEY, { model: 'm', stream, messages: [{ role: 'user', content: 'x' }] },
                             { 'x-request-id': id });
        if (r.status === 200) ids.push(id); else failures++;
        await sleep(10);
      }
    })();
    await sleep(3000);
    redis(rport, 'SHUTDOWN'); // persists what it has (append-only file), then exits
    const downAt = ids.length;
    await sleep(DOWN_S * 1000);
    const servedWhileDown = ids.length - downAt;
    rs = await startRedis(rport, dir);
    await sleep(3000);
    running = false;
    await load;
    assert.equal(failures, 0, 'requests were served while Redis was down');
    assert.ok(servedWhileDown > 100, `steady load while down (${servedWhileDown} requests)`);
    // Replay: wait until every record is in, then check each one exactly once.
    let count = 0;
    for (let t = 0; t < 60; t++) {
      count = Number(redis(rport, 'XLEN', 'sb:{log}:requests'));
      if (count >= ids.length) break;
      await sleep(500);
    }
    assert.equal(count, ids.length, `records in Redis (${count}) = requests served (${ids.length})`);
    // Every request id has its record key (written with its record, once), and the
    // stream holds exactly as many records as requests: none missing, none twice.
    let present = 0;
    for (let k = 0; k < ids.length; k += 500) {
      const keys = ids.slice(k, k + 500).map((id) => `sb:{log}:req:${id}`);
      present += Number(redis(rport, 'EXISTS', ...keys));
    }
    assert.equal(present, ids.length, `${ids.length - present} request ids without a record`);
    assert.equal(Number(redis(rport, 'XLEN', 'sb:{log}:requests')), ids.length, 'no duplicates');
  } finally { await gw.close(); await stop(rs); }
});

test('the logger down: requests are still served, and the drops are counted, not silent', async () => {
  const gw = await startGateway(config()); // no logger at all
  try {
    for (let i = 0; i < 50; i++) {
      const r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(r.status, 200);
    }
  } finally { await gw.close(); }
  const m = gw.procs.router.output().match(/log_dropped=(\d+)/);
  assert.ok(m, 'the router reports its counters when it stops');
  assert.ok(Number(m[1]) >= 50, `50 records dropped and counted (${m && m[1]})`);
});

test('garbage on the router, validator, logger and metrics sockets is dropped and the services keep serving', async () => {
  const rport = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-redis-'));
  const rs = await startRedis(rport, dir);
  const gw = await startGateway(config(), { validator: true, logger: { SB_REDIS_URL: `redis://127.0.0.1:${rport}` } });
  try {
    const poke = path.join(BIN, '..', 'tests', 'sb_poke');
    const ep = (k) => gw.env[k];
    execFileSync(poke, ['dealer', ep('SB_ROUTER_ENDPOINT'), '500']);
    execFileSync(poke, ['dealer', ep('SB_VALIDATOR_ENDPOINT'), '500']);
    execFileSync(poke, ['push', ep('SB_LOGGER_ENDPOINT'), '500']);
    const r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { 'x-request-id': 'after-garbage' });
    assert.equal(r.status, 200);
    for (const p of Object.values(gw.procs)) assert.equal(p.exitCode, null, 'every service still runs');
    await gw.close();
    const bad = gw.procs.router.output().match(/bad_messages=(\d+)/);
    assert.ok(bad && Number(bad[1]) >= 500, `the router counted the garbage (${bad && bad[1]})`);
    for (let t = 0; t < 20 && redis(rport, 'EXISTS', 'sb:{log}:req:after-garbage') !== '1'; t++) await sleep(100);
    assert.equal(redis(rport, 'EXISTS', 'sb:{log}:req:after-garbage'), '1', 'the logger still records');
  } finally { await gw.close(); await stop(rs); }
});

test('tool definitions seen in requests are registered: first/last seen, count, and a new version when a definition changes', async () => {
  const rport = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-redis-'));
  const rs = await startRedis(rport, dir);
  const cfg = config();
  cfg.settings = { auto_detect_tools: true };
  const gw = await startGateway(cfg, { logger: { SB_REDIS_URL: `redis://127.0.0.1:${rport}` } });
  const v1 = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
  const v2 = [{ type: 'function', function: { name: 'lookup', description: 'now with docs', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
  try {
    for (let i = 0; i < 3; i++)
      assert.equal((await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }], tools: v1 })).status, 200);
    await sleep(1500);
    assert.equal((await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }], tools: v2 })).status, 200);
    let tool = {};
    for (let t = 0; t < 30; t++) {
      const flat = redis(rport, 'HGETALL', 'sb:{tools}:tool:lookup').split('\n');
      tool = Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
      if (tool.count === '4') break;
      await sleep(200);
    }
    assert.equal(tool.count, '4');
    assert.equal(tool.version, '2');
    assert.ok(Number(tool.last_seen) > Number(tool.first_seen));
    assert.equal(redis(rport, 'HLEN', 'sb:{tools}:versions:lookup'), '2');
    const current = JSON.parse(redis(rport, 'HGET', 'sb:{tools}:versions:lookup', tool.current_hash));
    assert.equal(current.version, 2);
    assert.equal(JSON.parse(current.definition).description, 'now with docs');
  } finally { await gw.close(); await stop(rs); }
});

test('a record carries its cost by the group\'s billing mode', async () => {
  const rport = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-redis-'));
  const rs = await startRedis(rport, dir);
  const cfg = config();
  cfg.model_groups[0].billing_mode = 'cost_multiplier';
  cfg.model_groups[0].cost_multiplier = 2;
  cfg.prices = [{ model: 'm', input_per_1m: 1000, output_per_1m: 2000 }];
  const gw = await startGateway(cfg, { logger: { SB_REDIS_URL: `redis://127.0.0.1:${rport}` } });
  try {
    const r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { 'x-request-id': 'cost-1' });
    assert.equal(r.status, 200);
    const usage = JSON.parse(r.text).usage;
    let id = '';
    for (let t = 0; t < 30 && !(id = redis(rport, 'GET', 'sb:{log}:req:cost-1')); t++) await sleep(100);
    const out = redis(rport, 'XRANGE', 'sb:{log}:requests', id, id).split('\n');
    const rec = JSON.parse(out[out.indexOf('data') + 1]);
    const want = ((usage.prompt_tokens * 1000 + usage.completion_tokens * 2000) / 1e6) * 2;
    assert.equal(rec.billing_mode, 'cost_multiplier');
    assert.equal(rec.cost_known, true);
    assert.ok(Math.abs(rec.cost - want) < 1e-9, `cost ${rec.cost} = ${want}`);
  } finally { await gw.close(); await stop(rs); }
});

test('a logger stopped while records wait for it takes them in before it exits (none lost)', async () => {
  const rport = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-redis-'));
  const rs = await startRedis(rport, dir);
  const gw = await startGateway(config(), { logger: { SB_REDIS_URL: `redis://127.0.0.1:${rport}` } });
  try {
    const logger = gw.procs.logger;
    logger.kill('SIGSTOP'); // records now queue on their way to it
    const n = 100;
    const codes = await Promise.all(Array.from({ length: n }, (_, i) =>
      chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { 'x-request-id': `stop-${i}` }).then((r) => r.status)));
    assert.deepEqual(codes.filter((c) => c !== 200), [], 'served while the logger is paused');
    const exited = new Promise((r) => logger.once('exit', r));
    logger.kill('SIGTERM');
    logger.kill('SIGCONT'); // it wakes to the stop request with records still waiting
    await exited;
    const missing = [];
    for (let i = 0; i < n; i++) if (redis(rport, 'EXISTS', `sb:{log}:req:stop-${i}`) !== '1') missing.push(i);
    assert.deepEqual(missing, [], `${missing.length} of ${n} records lost`);
  } finally { await gw.close(); await stop(rs); }
});
