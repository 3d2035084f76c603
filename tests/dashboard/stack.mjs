// stack.mjs — the whole gateway for the dashboard test, on free loopback ports:
// redis-server, sb-mock, sb-logger, sb-router, sb-validator, sb-ingress and
// sb-admin (metrics SUB + Redis + dashboard), with the demo config pointed at
// the mock. Everything it starts is stopped when the process exits.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
export const BIN = process.env.SB_BIN_DIR || path.join(ROOT, 'build', 'bin');

const children = new Set();
function killAll() {
  for (const c of children) { try { c.kill('SIGKILL'); } catch {} }
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(1); });

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// Starts a process; resolves once its output matches `ready`.
function start(name, cmd, args, env, ready, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let done = false;
    const timer = setTimeout(() => { if (!done) { done = true; reject(new Error(`${name} not ready: ${out}`)); } }, timeoutMs);
    const onData = (d) => {
      out += d.toString();
      if (out.length > 200000) out = out.slice(-100000);
      if (process.env.SB_TEST_VERBOSE) process.stderr.write(`[${name}] ${d}`);
      if (!done && ready.test(out)) { done = true; clearTimeout(timer); resolve(child); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (done && !child.stopping) process.stderr.write(`[${name}] exited (code ${code}, signal ${signal})\n${out.slice(-2000)}\n`);
      if (!done) { done = true; clearTimeout(timer); reject(new Error(`${name} exited ${code}: ${out}`)); }
    });
    child.output = () => out;
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null) return resolve();
    child.stopping = true;
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function waitHttp(url, ms = 10000) {
  const until = Date.now() + ms;
  for (;;) {
    try { if ((await fetch(url)).status < 500) return; } catch {}
    if (Date.now() > until) throw new Error(`${url} does not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startStack({ adminToken, adminEnv = {} }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-dashboard-'));
  const [http, admin, router, validator, logger, metrics, redis, mock, pub, snap] =
    await Promise.all(Array.from({ length: 10 }, freePort));
  const config = JSON.parse(readFileSync(path.join(ROOT, 'config', 'demo.json'), 'utf8'));
  for (const ch of config.channels) ch.base_url = `http://127.0.0.1:${mock}/v1`;
  const configPath = path.join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const env = {
    SB_CONFIG: configPath, SB_DATA_DIR: dir, SB_REDIS_URL: `redis://127.0.0.1:${redis}`,
    SB_ROUTER_BIND: `tcp://127.0.0.1:${router}`, SB_ROUTER_ENDPOINT: `tcp://127.0.0.1:${router}`,
    SB_VALIDATOR_BIND: `tcp://127.0.0.1:${validator}`, SB_VALIDATOR_ENDPOINT: `tcp://127.0.0.1:${validator}`,
    SB_LOGGER_BIND: `tcp://127.0.0.1:${logger}`, SB_LOGGER_ENDPOINT: `tcp://127.0.0.1:${logger}`,
    SB_METRICS_BIND: `tcp://127.0.0.1:${metrics}`, SB_METRICS_ENDPOINT: `tcp://127.0.0.1:${metrics}`,
    SB_ADMIN_PUB_BIND: `tcp://127.0.0.1:${pub}`, SB_ADMIN_SNAPSHOT_BIND: `tcp://127.0.0.1:${snap}`,
    SB_HTTP_PORT: String(http), SB_HTTP_HOST: '127.0.0.1',
    SB_ADMIN_PORT: String(admin), SB_ADMIN_HOST: '127.0.0.1', SB_ADMIN_TOKEN: adminToken,
  };
  // The services read config from the seed file here (not from admin), so the
  // test does not depend on config distribution.
  for (const k of ['SB_ADMIN_PUB_ENDPOINT', 'SB_ADMIN_SNAPSHOT_ENDPOINT']) delete process.env[k];
  const procs = {};
  procs.redis = await start('redis', 'redis-server',
    ['--port', String(redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, /Ready to accept/);
  procs.mock = await start('mock', path.join(BIN, 'sb-mock'), ['--port', String(mock)], {}, /listening/);
  procs.admin = await start('admin', path.join(BIN, 'sb-admin'), [], { ...env, ...adminEnv }, /admin: http on/);
  procs.logger = await start('logger', path.join(BIN, 'sb-logger'), [], env, /pulling/);
  procs.router = await start('router', path.join(BIN, 'sb-router'), [], env, /router:/);
  procs.validator = await start('validator', path.join(BIN, 'sb-validator'), [], env, /validator:/);
  procs.ingress = await start('ingress', path.join(BIN, 'sb-ingress'), [], env, /listening/);
  const base = `http://127.0.0.1:${http}`;
  await waitHttp(`${base}/readyz`);
  await waitHttp(`http://127.0.0.1:${admin}/healthz`);
  return {
    base, admin: `http://127.0.0.1:${admin}`, adminPort: admin, env, dir, procs,
    async stopRedis() { await stop(procs.redis); },
    async close() { for (const p of Object.values(procs).reverse()) await stop(p); },
  };
}

export async function chat(base, body, requestId) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sb-demo', 'x-request-id': requestId },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}
