// stack.mjs — starts Switchboard's real processes for the fault tests: mocks,
// router, ingress (and validator, logger, Redis when asked), on free loopback
// ports, with a generated config; stops everything on exit.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
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

// Starts a process and resolves once a line of its output matches `ready`.
export function start(name, cmd, args, env = {}, ready = /./, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let done = false;
    const timer = setTimeout(() => { if (!done) { done = true; reject(new Error(`${name} not ready: ${out}`)); } }, timeoutMs);
    const onData = (d) => {
      out += d.toString();
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

export function stop(child, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.stopping = true;
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export async function startMock(port) {
  port = port || await freePort();
  const child = await start(`mock:${port}`, path.join(BIN, 'sb-mock'), ['--port', String(port)], {}, /listening/);
  return { port, child, url: `http://127.0.0.1:${port}` };
}

// A gateway (router + ingress [+ validator]) for `config` (an object).
export async function startGateway(config, { validator = false, logger = null, extraEnv = {}, dir = null } = {}) {
  dir = dir || mkdtempSync(path.join(os.tmpdir(), 'sb-faults-'));
  const configPath = path.join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const [http, rport, vport, lport, mport] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const env = {
    SB_CONFIG: configPath, SB_DATA_DIR: dir,
    SB_ROUTER_BIND: `tcp://127.0.0.1:${rport}`, SB_ROUTER_ENDPOINT: `tcp://127.0.0.1:${rport}`,
    SB_VALIDATOR_BIND: `tcp://127.0.0.1:${vport}`, SB_VALIDATOR_ENDPOINT: `tcp://127.0.0.1:${vport}`,
    SB_LOGGER_ENDPOINT: `tcp://127.0.0.1:${lport}`, SB_LOGGER_BIND: `tcp://127.0.0.1:${lport}`,
    SB_METRICS_ENDPOINT: `tcp://127.0.0.1:${mport}`,
    SB_HTTP_PORT: String(http), SB_HTTP_HOST: '127.0.0.1', ...extraEnv,
  };
  const procs = {};
  if (logger) procs.logger = await start('logger', path.join(BIN, 'sb-logger'), [], { ...env, ...logger }, /pulling/);
  procs.router = await start('router', path.join(BIN, 'sb-router'), [], env, /router:/);
  if (validator) procs.validator = await start('validator', path.join(BIN, 'sb-validator'), [], env, /validator:/);
  procs.ingress = await start('ingress', path.join(BIN, 'sb-ingress'), [], env, /listening/);
  const base = `http://127.0.0.1:${http}`;
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/readyz`)).status === 200) break; } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  return { base, env, dir, procs, async close() { for (const p of Object.values(procs)) await stop(p); } };
}

export async function chat(base, key, body, headers = {}) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

// SSE events (data values) of a response text.
export function events(text) {
  return text.split(/\n\n/).map((e) => e.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n')).filter((d) => d.length);
}

export async function pool(n, concurrency, fn) {
  let next = 0;
  const results = new Array(n);
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) { const i = next++; results[i] = await fn(i); }
  }));
  return results;
}
