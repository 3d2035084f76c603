// dashboard.test.mjs — admin's live dashboard in a real browser (Debian chromium
// driven by playwright-core) against the whole gateway on free ports: sign in
// with the admin token, send requests through ingress while the page is open,
// see the numbers move and the requests arrive without a reload, open a
// streamed request and see its chunks. Also /metrics and the logs API as a
// scraper and a script would use them, and a wrong token refused.
// Screenshots go to $SB_SCREENSHOT_DIR (the build dir under ctest).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { chat, startStack } from './stack.mjs';

const TOKEN = 'dashboard-test-admin-token-0123456789';
const SHOTS = process.env.SB_SCREENSHOT_DIR || path.join(os.tmpdir(), 'sb-dashboard-shots');
const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';

let stack, context, page, profile;
const consoleErrors = [];

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // A short send queue per dashboard client, so the slow-client test fills it
  // quickly; a browser that keeps up never comes near it.
  stack = await startStack({ adminToken: TOKEN, adminEnv: { SB_ADMIN_WS_QUEUE: '8' } });
  profile = mkdtempSync(path.join(os.tmpdir(), 'sb-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

after(async () => {
  if (context) await context.close();
  if (stack) await stack.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function number(selector) {
  const text = (await page.textContent(selector)).replace(/,/g, '');
  return parseFloat(text);
}

// Sends `n` chat requests (every third streamed) with ids prefix-0…; returns them.
async function traffic(prefix, n) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    const stream = i % 3 === 2;
    const r = await chat(stack.base, { model: 'demo-chat', stream, messages: [{ role: 'user', content: `hello ${i}` }] }, id);
    assert.equal(r.status, 200, r.text);
    ids.push({ id, stream });
  }
  return ids;
}

test('sign in, live numbers, requests appear, a streamed request shows its chunks', async () => {
  await page.goto(stack.admin + '/');
  await page.waitForSelector('#login:not([hidden])');
  await page.fill('#token', TOKEN);
  await page.click('#connect');
  await page.waitForFunction(() => document.querySelector('#conn').textContent === 'live', null, { timeout: 10000 });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('sb-admin-token')), TOKEN);
  // Services report within a second or two; the header lists them.
  await page.waitForFunction(() => /router/.test(document.querySelector('#instances').textContent) &&
    /ingress/.test(document.querySelector('#instances').textContent), null, { timeout: 10000 });
  assert.equal(await page.textContent('#redis'), 'logs up');
  const before = await number('#total-requests');

  // Requests while the page is open, spread over ~3 s so the rate is visible.
  const sent = [];
  for (let round = 0; round < 6; round++) {
    sent.push(...await traffic(`dash-${round}`, 6));
    await new Promise((r) => setTimeout(r, 400));
  }
  await page.waitForFunction(() => parseFloat(document.querySelector('#rps').textContent) > 0, null, { timeout: 15000 });
  const rps = await number('#rps');
  assert.ok(rps > 0, `rps ${rps}`);
  await page.waitForFunction((want) => parseFloat(document.querySelector('#total-requests').textContent.replace(/,/g, '')) >= want,
    before + sent.length, { timeout: 10000 });
  const p50 = await page.textContent('#p50');
  assert.match(p50, /ms|s$/, `p50 shows a latency: ${p50}`);
  const tokens = await number('#tps');
  assert.ok(tokens > 0, `tokens/s ${tokens}`);
  // Channels from the router's breaker gauges.
  await page.waitForSelector('#channels tbody tr');
  assert.match(await page.textContent('#channels tbody'), /mock-primary/);

  // A tool call with broken arguments, repaired by the validator (auto_fix).
  const tool = await chat(stack.base, {
    model: 'demo-tools', messages: [{ role: 'user', content: 'weather?' }],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object',
      properties: { city: { type: 'string' }, max_items: { type: 'integer' } }, required: ['city'] } } }],
  }, 'dash-tool');
  assert.equal(tool.status, 200, tool.text);
  await page.waitForSelector('#requests tbody tr[data-request-id="dash-tool"]', { timeout: 10000 });
  assert.match(await page.textContent('#requests tbody tr[data-request-id="dash-tool"]'), /1 fixed/);
  await page.waitForFunction(() => parseInt(document.querySelector('#tools').textContent, 10) >= 1, null, { timeout: 10000 });

  // Every request arrived in the table without a reload (the tail pushes them).
  const last = sent[sent.length - 1].id;
  await page.waitForSelector(`#requests tbody tr[data-request-id="${last}"]`, { timeout: 10000 });
  const rows = await page.$$eval('#requests tbody tr', (trs) => trs.map((t) => t.dataset.requestId));
  for (const { id } of sent) assert.ok(rows.includes(id), `row for ${id}`);
  assert.equal(rows[0], 'dash-tool', 'newest first');
  const pos = sent.map(({ id }) => rows.indexOf(id));
  for (let i = 1; i < pos.length; i++) assert.ok(pos[i] < pos[i - 1], `${sent[i].id} above ${sent[i - 1].id}`);
  const row = await page.textContent(`#requests tbody tr[data-request-id="${last}"]`);
  assert.match(row, /200/);
  assert.match(row, /demo-chat/);
  await page.screenshot({ path: path.join(SHOTS, 'dashboard.png') });

  // A streamed request: its detail lists the chunks with their offsets.
  const streamed = sent.filter((s) => s.stream).pop().id;
  await page.click(`#requests tbody tr[data-request-id="${streamed}"]`);
  await page.waitForSelector('#detail-chunks .chunk', { timeout: 10000 });
  assert.equal(await page.textContent('#detail-title'), streamed);
  const chunks = await page.$$eval('#detail-chunks .chunk', (cs) => cs.map((c) => ({
    at: c.querySelector('.at').textContent, data: c.querySelector('pre').textContent })));
  assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
  for (const c of chunks) assert.match(c.at, /^\+\d+ ms$/);
  assert.match(chunks[0].data, /^data: \{/);
  assert.ok(chunks.some((c) => c.data.includes('[DONE]')), 'the stream ends with [DONE]');
  assert.match(await page.textContent('#detail-request'), /"stream": true/);
  assert.match(await page.textContent('#detail-text'), /^Lorem/, 'the content deltas put together');
  await page.screenshot({ path: path.join(SHOTS, 'dashboard-detail.png') });

  // A plain request: the response body, pretty-printed.
  await page.click('#detail-close');
  const plain = sent.find((s) => !s.stream).id;
  await page.click(`#requests tbody tr[data-request-id="${plain}"]`);
  await page.waitForSelector('#detail-response');
  assert.match(await page.textContent('#detail-response'), /"object": "chat.completion"/);
  await page.keyboard.press('Escape');
  assert.equal(await page.isHidden('#detail'), true);

  assert.deepEqual(consoleErrors, [], 'no errors in the page (CSP included)');
});

test('a reload keeps the session and loads the history', async () => {
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#conn').textContent === 'live', null, { timeout: 10000 });
  await page.waitForSelector('#requests tbody tr[data-request-id="dash-5-5"]', { timeout: 10000 });
});

test('a wrong token is refused and the page asks again', async () => {
  const other = await context.newPage();
  await other.goto(stack.admin + '/');
  await other.evaluate(() => sessionStorage.clear());
  await other.reload();
  await other.fill('#token', 'not-the-token');
  await other.click('#connect');
  await other.waitForFunction(() => /refused/.test(document.querySelector('#login-error').textContent), null, { timeout: 10000 });
  assert.equal(await other.isVisible('#login'), true);
  assert.equal(await other.evaluate(() => sessionStorage.getItem('sb-admin-token')), null);
  await other.close();
});

test('/metrics serves Prometheus text without a token; the logs API needs one', async () => {
  const res = await fetch(`${stack.admin}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const ok = /^sb_requests_total\{service="router",status="200",model="demo-chat",channel="[^"]+"\} (\d+)$/m.exec(text);
  assert.ok(ok && +ok[1] >= 36, 'router requests summed');
  assert.match(text, /^sb_request_duration_ms_bucket\{service="router",model="demo-chat",le="\+Inf"\} \d+$/m);
  assert.match(text, /^sb_router_active_requests\{service="router",instance="router-[^"]+-\d+"\} 0$/m);
  assert.match(text, /^sb_admin_ws_clients\{service="admin",instance="admin-\d+"\} [1-9]/m);

  assert.equal((await fetch(`${stack.admin}/api/logs`)).status, 401);
  const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
  const page1 = await (await fetch(`${stack.admin}/api/logs?limit=5&model=demo-chat&status=2xx`, auth)).json();
  assert.equal(page1.data.length, 5);
  assert.equal(page1.has_more, true);
  const page2 = await (await fetch(`${stack.admin}/api/logs?limit=5&before=${page1.next_before}`, auth)).json();
  assert.equal(page2.data.length, 5);
  assert.ok(page2.data[0].id < page1.data[4].id || page2.data[0].id.length < page1.data[4].id.length, 'older page');
  const list = async (q) => (await (await fetch(`${stack.admin}/api/logs?limit=200&${q}`, auth)).json()).data;
  assert.equal((await list('status=5xx')).length, 0);
  assert.ok((await list('key=demo&group=demo&channel=mock-primary')).length >= 37);
  assert.equal((await list('key=nobody')).length, 0);
  assert.equal((await list(`since=${Date.now() + 3600000}`)).length, 0);
  assert.equal((await list('until=1000')).length, 0);
  const issues = await list('tool_issues=1');
  assert.deepEqual(issues.map((i) => i.request_id), ['dash-tool']);
  assert.match(issues[0].record.tool_validation, /fixed=1/);
  const tail = await list(`since=${Math.floor(issues[0].ts_us / 1000)}&model=demo-tools`);
  assert.deepEqual(tail.map((i) => i.request_id), ['dash-tool']);
  const bad = await fetch(`${stack.admin}/api/logs?limit=100000`, auth);
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /limit/);
});

async function metric(name) {
  const text = await (await fetch(`${stack.admin}/metrics`)).text();
  const m = new RegExp(`^${name}\\{service="admin"\\} (\\d+)$`, 'm').exec(text);
  return m ? +m[1] : 0;
}

test('a client that stops reading is dropped; the page keeps going', async () => {
  const dropped = await metric('sb_admin_ws_dropped_slow_total');
  // A WebSocket client that authenticates, then never reads again.
  const sock = net.connect(stack.adminPort, '127.0.0.1');
  let closed = false;
  sock.on('close', () => { closed = true; });
  sock.on('error', () => {});
  await new Promise((resolve, reject) => {
    sock.once('data', (d) => (/^HTTP\/1\.1 101/.test(d.toString()) ? resolve() : reject(new Error(d.toString()))));
    sock.write(`GET /ws?token=${TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Protocol: sb-dashboard\r\n\r\n');
  });
  sock.pause();
  // Traffic until admin gives up on it (bounded: 30 s), 16 requests at a time.
  const until = Date.now() + 30000;
  let n = 0, gone = false;
  while (!gone && Date.now() < until) {
    await Promise.all(Array.from({ length: 16 }, () => chat(stack.base,
      { model: 'demo-chat', messages: [{ role: 'user', content: 'x'.repeat(200) }] }, `slow-${n++}`)));
    if (n % 320 === 0) gone = (await metric('sb_admin_ws_dropped_slow_total')) > dropped;
  }
  gone = gone || (await metric('sb_admin_ws_dropped_slow_total')) > dropped;
  assert.ok(gone, `dropped after ${n} requests`);
  assert.equal(await metric('sb_admin_ws_dropped_slow_total'), dropped + 1, 'only the slow client');
  sock.resume(); // drain what the kernel held: then the close shows
  for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(closed, 'the slow client was disconnected');
  // The browser kept up: still live, still getting requests (during the flood
  // the tail skips to the newest records, so look for one sent afterwards).
  assert.equal(await page.textContent('#conn'), 'live');
  await new Promise((r) => setTimeout(r, 600));
  assert.equal((await chat(stack.base, { model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }] }, 'after-slow')).status, 200);
  await page.waitForSelector('#requests tbody tr[data-request-id="after-slow"]', { timeout: 10000 });
  await page.screenshot({ path: path.join(SHOTS, 'dashboard-load.png') });
});

test('Redis down: the logs API answers 503 at once, the rest of admin keeps working', async () => {
  await stack.stopRedis();
  const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
  const t0 = Date.now();
  const res = await fetch(`${stack.admin}/api/logs?limit=5`, auth);
  assert.equal(res.status, 503);
  assert.equal((await res.json()).error.code, 'logs_unavailable');
  assert.ok(Date.now() - t0 < 2500, `answered in ${Date.now() - t0} ms`);
  assert.equal((await fetch(`${stack.admin}/healthz`)).status, 200);
  assert.equal((await fetch(`${stack.admin}/metrics`)).status, 200);
  // The page says so, and keeps its live numbers.
  await page.waitForFunction(() => document.querySelector('#redis').textContent === 'logs down', null, { timeout: 10000 });
  assert.equal(await page.textContent('#conn'), 'live');
  await page.screenshot({ path: path.join(SHOTS, 'dashboard-redis-down.png') });
});
