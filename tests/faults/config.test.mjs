// config.test.mjs — the control plane under change and failure: a channel's
// base_url changed through admin's API while requests flow (none fails, new ones
// go to the new address, within a second); admin down (requests still served,
// and a restarted service starts from its cached snapshot).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BIN, chat, freePort, start, startGateway, startMock, stop } from './stack.mjs';

const KEY = 'sb-config-key';
const TOKEN = 'admin-token-for-tests-0123456789';
let a, b;
before(async () => { a = await startMock(); b = await startMock(); });
after(async () => { await stop(a.child); await stop(b.child); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stats = async (m) => (await (await fetch(`${m.url}/_mock/stats`)).json()).requests;

async function startAdmin(dir, seed) {
  const [http, pub, snap] = await Promise.all([freePort(), freePort(), freePort()]);
  const seedPath = path.join(dir, 'seed.json');
  writeFileSync(seedPath, JSON.stringify(seed));
  const env = { SB_DATA_DIR: dir, SB_CONFIG: seedPath, SB_ADMIN_PORT: String(http), SB_ADMIN_TOKEN: TOKEN,
                SB_ADMIN_PUB_BIND: `tcp://127.0.0.1:${pub}`, SB_ADMIN_SNAPSHOT_BIND: `tcp://127.0.0.1:${snap}` };
  const child = await start('admin', path.join(BIN, 'sb-admin'), [], env, /http on/);
  return { child, url: `http://127.0.0.1:${http}`, env,
           clientEnv: { SB_ADMIN_PUB_ENDPOINT: `tcp://127.0.0.1:${pub}`, SB_ADMIN_SNAPSHOT_ENDPOINT: `tcp://127.0.0.1:${snap}` } };
}

const seed = () => ({
  channels: [{ name: 'main', base_url: `${a.url}/v1`, api_key: 'sk-main', models: ['m'] }],
  model_groups: [{ name: 'g', channels: ['main'], models: ['m'] }],
  api_keys: [{ name: 'k', key: KEY, model_groups: ['g'] }],
});

test('a base_url changed through the API while requests flow: none fails, the new ones go to the new address within a second', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-config-'));
  const admin = await startAdmin(dir, seed());
  const gw = await startGateway(seed(), { dir, extraEnv: admin.clientEnv });
  try {
    let running = true, sent = 0;
    const codes = [];
    const load = (async () => {
      while (running) { const r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] }); codes.push(r.status); sent++; }
    })();
    await sleep(800);
    const before = await stats(b);
    const t0 = Date.now();
    const res = await fetch(`${admin.url}/api/channels/main`, { method: 'PATCH', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
                                                                body: JSON.stringify({ base_url: `${b.url}/v1` }) });
    assert.equal(res.status, 200);
    // Wait for the first request to land on the new address.
    let moved = 0;
    while (Date.now() - t0 < 1000 && (await stats(b)) === before) await sleep(10);
    moved = Date.now() - t0;
    await sleep(500);
    const aBefore = await stats(a);
    await sleep(500);
    running = false;
    await load;
    assert.ok(moved < 1000, `new requests reached the new address ${moved} ms after the change`);
    assert.equal(await stats(a), aBefore, 'the old address gets nothing once the change is in');
    assert.ok((await stats(b)) - before > 20, 'the new address serves');
    assert.deepEqual(codes.filter((c) => c !== 200), [], `all ${sent} requests succeeded`);
  } finally { await gw.close(); await stop(admin.child); }
});

test('admin down: requests are still served, and a service restarted meanwhile starts from its cached snapshot', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-config-'));
  const admin = await startAdmin(dir, seed());
  // The gateway's own seed file points elsewhere: only admin's snapshot makes it work.
  const broken = seed();
  broken.channels[0].base_url = 'http://127.0.0.1:9/v1';
  let gw = await startGateway(broken, { dir, extraEnv: admin.clientEnv });
  try {
    await sleep(1200); // snapshot from admin
    let r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 200, 'served with admin\'s config');
    await stop(admin.child, 'SIGKILL');
    for (let i = 0; i < 20; i++) {
      r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(r.status, 200, 'admin down: still served');
    }
    await gw.close();
    gw = await startGateway(broken, { dir, extraEnv: admin.clientEnv }); // admin still down
    r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 200, 'restarted while admin is down: the cached snapshot serves');
  } finally { await gw.close(); await stop(admin.child); }
});

test('a key deleted through the API is refused within a second, though it was just used (no cache outlives the config)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-config-'));
  const s = seed();
  s.api_keys.push({ name: 'other', key: 'sb-config-other-key', model_groups: ['g'] });
  const admin = await startAdmin(dir, s);
  const gw = await startGateway(s, { dir, extraEnv: admin.clientEnv });
  const ask = async (key) => (await chat(gw.base, key, { model: 'm', messages: [{ role: 'user', content: 'x' }] })).status;
  try {
    for (let i = 0; i < 5; i++) assert.equal(await ask(KEY), 200);
    const res = await fetch(`${admin.url}/api/api_keys/k`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.ok(res.status === 200 || res.status === 204, `delete: ${res.status}`);
    const t0 = Date.now();
    while (Date.now() - t0 < 1500 && (await ask(KEY)) === 200) await sleep(10);
    const refusedAfter = Date.now() - t0;
    assert.ok(refusedAfter < 1000, `the deleted key was still served ${refusedAfter} ms after the change`);
    for (let i = 0; i < 5; i++) assert.equal(await ask(KEY), 401);
    assert.equal(await ask('sb-config-other-key'), 200, 'the other key still works');
  } finally { await gw.close(); await stop(admin.child); }
});

test('a config change elsewhere keeps what the router learnt: a channel behind an open breaker is not tried again', async () => {
  const { freePort: fp } = await import('./stack.mjs');
  const down = await fp(); // nothing listens: connection refused
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-config-'));
  const s = {
    channels: [{ name: 'primary', base_url: `http://127.0.0.1:${down}/v1`, models: ['m'], priority: 1 },
               { name: 'backup', base_url: `${a.url}/v1`, models: ['m'], priority: 2 }],
    model_groups: [{ name: 'g', channels: ['primary', 'backup'], models: ['m'], max_attempts: 3,
                     circuit_breaker: { failure_threshold: 3, cooldown_ms: 30000 } }],
    api_keys: [{ name: 'k', key: KEY, model_groups: ['g'] }],
  };
  const admin = await startAdmin(dir, s);
  const gw = await startGateway(s, { dir, extraEnv: admin.clientEnv });
  const ask = async () => {
    const r = await chat(gw.base, KEY, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 200);
    return `${r.headers.get('x-switchboard-channel')}/${r.headers.get('x-switchboard-attempts')}`;
  };
  try {
    const first = [];
    for (let i = 0; i < 4; i++) first.push(await ask());
    assert.deepEqual(first, ['backup/2', 'backup/2', 'backup/2', 'backup/1'], 'three failures open the breaker');
    // Another channel's weight changes: a new config generation in the router.
    const res = await fetch(`${admin.url}/api/channels/backup`, { method: 'PATCH', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
                                                                  body: JSON.stringify({ weight: 3 }) });
    assert.equal(res.status, 200);
    await sleep(1500);
    const after = [];
    for (let i = 0; i < 5; i++) after.push(await ask());
    assert.deepEqual(after, Array(5).fill('backup/1'), 'the failing primary stays skipped');
  } finally { await gw.close(); await stop(admin.child); }
});
