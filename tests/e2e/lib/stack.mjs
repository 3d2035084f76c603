//  Harness for Switchboard's end-to-end tests: starts the real services (sb-mock,
//  sb-router, sb-validator, sb-ingress) as child processes on free ports, with a
//  config generated per test file, and kills them all at the end, on failure too.
//
//  Binaries come from $SB_BIN_DIR (ctest passes ${CMAKE_BINARY_DIR}/bin), by default
//  <repo>/build/bin. Every service prints one line on stdout when it is ready; the
//  harness waits for that line, and for the ingress also for GET /readyz == 200.
//  Set SB_E2E_VERBOSE=1 to see every service's output as it happens.

import { execSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN_DIR = process.env.SB_BIN_DIR || path.join(REPO, 'build', 'bin');
const VERBOSE = !!process.env.SB_E2E_VERBOSE;

//  ---------------------------------------------------------------------------------
//  Processes

const live = new Set(); // every child still running, killed on exit whatever happens
const tempDirs = new Set(); // stacks' temp dirs, removed on exit whatever happens

function killAllSync() {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
  for (const svc of live) {
    try {
      svc.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    //  Say so: a test run cut short by a signal looks like a crash otherwise.
    process.stderr.write(`e2e harness: got ${sig}; stopping ${live.size} services\n`);
    killAllSync();
    process.exit(130);
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

//  A port nothing listens on right now (the kernel picks it). Another process may take
//  it before we use it; callers retry when a service fails to bind.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

//  One service process. `output` keeps everything it printed (for failure messages).
class Service {
  constructor(name, proc) {
    this.name = name;
    this.proc = proc;
    this.output = '';
    this.exited = null; // {code, signal} once it has exited
    this.stopping = false; // true once the harness asked it to go (exits after are expected)
    this.exitPromise = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exited = { code, signal };
        live.delete(this);
        resolve(this.exited);
      });
    });
  }

  get pid() {
    return this.proc.pid;
  }

  //  SIGTERM, then SIGKILL if it has not gone within `graceMs`.
  async stop(graceMs = 2000) {
    this.stopping = true;
    if (this.exited) return this.exited;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.exited) this.proc.kill('SIGKILL');
    }, graceMs);
    const result = await this.exitPromise;
    clearTimeout(timer);
    return result;
  }

  async kill() {
    this.stopping = true;
    if (this.exited) return this.exited;
    this.proc.kill('SIGKILL');
    return this.exitPromise;
  }

  tail(n = 30) {
    return this.output.split('\n').slice(-n).join('\n');
  }
}

//  Starts `bin` and resolves once a stdout line matches `ready`. Rejects (with what the
//  process printed) when it exits first or `timeoutMs` passes.
export function startService(name, bin, { args = [], env = {}, ready, timeoutMs = 10000 } = {}) {
  const file = path.isAbsolute(bin) ? bin : path.join(BIN_DIR, bin);
  if (!fs.existsSync(file)) {
    return Promise.reject(
      new Error(`${file} does not exist: build it, or set SB_BIN_DIR to the directory holding it`),
    );
  }
  const proc = spawn(file, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: REPO,
  });
  const svc = new Service(name, proc);
  live.add(svc);

  return new Promise((resolve, reject) => {
    let lineBuf = '';
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        svc.kill().finally(() => reject(err));
      } else resolve(svc);
    };
    const timer = setTimeout(
      () => finish(new Error(`${name} not ready after ${timeoutMs} ms; output:\n${svc.tail()}`)),
      timeoutMs,
    );
    const onData = (stream) => (chunk) => {
      const text = chunk.toString();
      svc.output += text;
      if (VERBOSE) process.stderr.write(`[${name}${stream}] ${text}`);
      if (stream === '') {
        lineBuf += text;
        let nl;
        while ((nl = lineBuf.indexOf('\n')) >= 0) {
          const line = lineBuf.slice(0, nl);
          lineBuf = lineBuf.slice(nl + 1);
          if (ready.test(line)) {
            svc.readyLine = line;
            finish();
          }
        }
      }
    };
    proc.stdout.on('data', onData(''));
    proc.stderr.on('data', onData(' err'));
    proc.on('error', (err) => finish(err));
    svc.exitPromise.then(({ code, signal }) =>
      finish(
        new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready:\n${svc.tail()}`),
      ),
    );
  });
}

//  Retries `fn` (which picks fresh ports each time) when a start fails, e.g. because
//  another process took a port between freePort() and bind().
async function withRetries(what, fn, attempts = 4) {
  let last;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await sleep(100 * (i + 1));
    }
  }
  throw new Error(`${what}: ${last && last.message}`);
}

//  Stops every stack, mock or service given (nulls skipped), all of them even when one
//  fails (a stack reports a crashed service by throwing); then throws the first error.
export async function stopAll(...things) {
  let first;
  for (const t of things.flat()) {
    if (!t) continue;
    try {
      await t.stop();
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}

//  ---------------------------------------------------------------------------------
//  Raw HTTP helper (no SDK): resolves {status, headers, body, json}.

export function request(url, { method = 'GET', headers = {}, body, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
    else req.end();
  });
}

//  ---------------------------------------------------------------------------------
//  The mock provider

export class Mock {
  constructor(svc, port) {
    this.svc = svc;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
  }

  //  A base_url for a channel; `knobs` ("status=500,fail_rate=0.5") become a /x/ prefix.
  baseUrl(knobs) {
    return knobs ? `${this.url}/x/${knobs}/v1` : `${this.url}/v1`;
  }

  async stats() {
    return (await request(`${this.url}/_mock/stats`)).json;
  }

  async last() {
    return (await request(`${this.url}/_mock/last`)).json;
  }

  async reset() {
    return (await request(`${this.url}/_mock/reset`, { method: 'POST' })).json;
  }

  //  Polls the stats until `pred(stats)` holds; resolves the stats, or rejects with the
  //  last ones seen after `timeoutMs`.
  async waitStats(pred, timeoutMs = 5000, everyMs = 50) {
    const until = Date.now() + timeoutMs;
    let stats;
    for (;;) {
      stats = await this.stats();
      if (pred(stats)) return stats;
      if (Date.now() > until) {
        throw new Error(`mock stats did not reach the expected state in ${timeoutMs} ms: ${JSON.stringify(stats)}`);
      }
      await sleep(everyMs);
    }
  }

  stop() {
    return this.svc.stop();
  }
}

export function startMock() {
  return withRetries('sb-mock', async () => {
    const port = await freePort();
    const svc = await startService('mock', 'sb-mock', {
      args: ['--port', String(port)],
      ready: /^sb-mock listening on http:\/\/127\.0\.0\.1:\d+/,
    });
    const m = /:(\d+)\s*$/.exec(svc.readyLine);
    return new Mock(svc, m ? Number(m[1]) : port);
  });
}

//  ---------------------------------------------------------------------------------
//  Config

//  A config whose channels all point at `mock` (a Mock, or a map name → Mock).
//  channels: [{name, knobs?, mock?, ...any channel field}], groups: [{name, channels,
//  ...}], keys: [{name, key, model_groups}]. Fields left out get the gateway's defaults.
export function makeConfig({ mock, channels, groups, keys, settings }) {
  return {
    channels: channels.map(({ knobs, mock: m, ...ch }) => ({
      type: 'openai',
      api_key: `sk-${ch.name}`,
      base_url: (m || mock).baseUrl(knobs),
      ...ch,
    })),
    model_groups: groups,
    api_keys: keys,
    settings: settings || {},
  };
}

//  ---------------------------------------------------------------------------------
//  The gateway

export class Stack {
  constructor({ config, dir }) {
    this.config = config;
    this.dir = dir;
    this.configPath = path.join(dir, 'config.json');
    tempDirs.add(dir);
    fs.writeFileSync(this.configPath, JSON.stringify(config, null, 2));
    this.router = null;
    this.validator = null;
    this.ingress = null;
    this.logger = null;
    this.started = []; // every service this stack started, restarted ones included
  }

  track(svc) {
    this.started.push(svc);
    return svc;
  }

  get url() {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get baseURL() {
    return `${this.url}/v1`;
  }

  //  Picks the ZeroMQ ports once: a restarted router binds the same ones so the
  //  ingress (and validators) reconnect to it.
  async pickPorts() {
    this.routerPort = await freePort();
    this.validatorPort = await freePort();
    this.loggerPort = await freePort(); // nothing listens: the router must not care
    this.metricsPort = await freePort(); // ditto; not the shared default 5562
  }

  //  Settings every gateway service gets: private endpoints and data dir, and no admin
  //  (a developer's SB_ADMIN_* must not feed this stack another config).
  commonEnv() {
    return {
      SB_METRICS_ENDPOINT: `tcp://127.0.0.1:${this.metricsPort}`,
      SB_LOGGER_ENDPOINT: `tcp://127.0.0.1:${this.loggerPort}`, // router and ingress push here
      SB_DATA_DIR: path.join(this.dir, 'data'),
      SB_ADMIN_PUB_ENDPOINT: '',
      SB_ADMIN_SNAPSHOT_ENDPOINT: '',
    };
  }

  async startRouter(extraEnv = {}) {
    this.router = await this.startTracked('router', 'sb-router', {
      env: {
        ...this.commonEnv(),
        SB_CONFIG: this.configPath,
        SB_ROUTER_BIND: `tcp://127.0.0.1:${this.routerPort}`,
        SB_VALIDATOR_BIND: `tcp://127.0.0.1:${this.validatorPort}`,
        SB_LOGGER_ENDPOINT: `tcp://127.0.0.1:${this.loggerPort}`,
        SB_VALIDATOR_BUDGET_MS: '2000',
        ...extraEnv,
      },
      ready: /^router: ingress on /,
    });
    return this.router;
  }

  async startValidator(extraEnv = {}) {
    this.validator = await this.startTracked('validator', 'sb-validator', {
      env: {
        ...this.commonEnv(),
        SB_VALIDATOR_ENDPOINT: `tcp://127.0.0.1:${this.validatorPort}`,
        SB_VALIDATOR_THREADS: '2',
        ...extraEnv,
      },
      ready: /^validator: /,
    });
    const m = /\(engine: ([^)]*)\)/.exec(this.validator.readyLine);
    this.validatorEngine = m ? m[1] : 'unknown';
    return this.validator;
  }

  async startIngress(extraEnv = {}) {
    this.httpPort = await freePort();
    this.ingress = await this.startTracked('ingress', 'sb-ingress', {
      env: {
        ...this.commonEnv(),
        SB_CONFIG: this.configPath,
        SB_HTTP_PORT: String(this.httpPort),
        SB_HTTP_HOST: '127.0.0.1',
        SB_ROUTER_ENDPOINT: `tcp://127.0.0.1:${this.routerPort}`,
        ...this.ingressEnv,
        ...extraEnv,
      },
      ready: /^ingress: listening on /,
    });
    return this.ingress;
  }

  //  Resolves the /readyz answer once its status is `status`, or rejects after timeoutMs.
  async waitReady(status = 200, timeoutMs = 8000) {
    const until = Date.now() + timeoutMs;
    let last;
    for (;;) {
      try {
        last = await request(`${this.url}/readyz`, { timeoutMs: 2000 });
        if (last.status === status) return last;
      } catch (err) {
        last = { error: err.message };
      }
      if (Date.now() > until) {
        throw new Error(`/readyz did not become ${status} in ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
      }
      await sleep(50);
    }
  }

  //  The logger, bound where the router pushes (SB_LOGGER_ENDPOINT), writing to Redis
  //  at `redisUrl`, spooling under this stack's temp dir.
  async startLogger(redisUrl, extraEnv = {}) {
    this.logger = await this.startTracked('logger', 'sb-logger', {
      env: {
        ...this.commonEnv(),
        SB_LOGGER_BIND: `tcp://127.0.0.1:${this.loggerPort}`,
        SB_REDIS_URL: redisUrl,
        SB_DATA_DIR: path.join(this.dir, 'data'),
        ...extraEnv,
      },
      ready: /^logger: pulling on /,
    });
    return this.logger;
  }

  //  Resolves once the ingress answers HTTP at all (any status).
  async waitListening(timeoutMs = 3000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await request(`${this.url}/healthz`, { timeoutMs: 1000 });
      } catch (err) {
        if (Date.now() > until) throw new Error(`ingress on port ${this.httpPort} does not answer: ${err.message}`);
      }
      await sleep(25);
    }
  }

  //  Every service that is (still) running.
  services() {
    return [this.ingress, this.router, this.validator, this.logger].filter(Boolean);
  }

  //  What each service printed, for a failure message.
  logs() {
    return this.services()
      .map((s) => `--- ${s.name} (pid ${s.pid}${s.exited ? `, exited ${JSON.stringify(s.exited)}` : ''})\n${s.tail(40)}`)
      .join('\n');
  }

  async startTracked(name, bin, opts) {
    return this.track(await startService(name, bin, opts));
  }

  //  Services that exited without the harness asking them to (crashes).
  crashed() {
    return this.started.filter((s) => s.exited && !s.stopping);
  }

  //  Stops everything; then fails if any service had died on its own meanwhile, so a
  //  crash masked by the gateway's resilience (a validator segfault hidden by
  //  fail-open, say) still fails the test file.
  async stop() {
    const crashed = this.crashed();
    const report = crashed.map((s) => `--- ${s.name} (pid ${s.pid}) exited ${JSON.stringify(s.exited)}\n${s.tail(40)}`).join('\n');
    await Promise.all(this.services().map((s) => s.stop()));
    fs.rmSync(this.dir, { recursive: true, force: true });
    tempDirs.delete(this.dir);
    if (crashed.length) throw new Error(`service(s) died during the test: ${crashed.map((s) => s.name).join(', ')}\n${report}`);
  }
}

//  What the system knows about `port` and process `pid`, for a failure message.
function diagnose(port, pid) {
  try {
    return execSync(
      `(ss -ltnp 'sport = :${port}'; ss -tanp 'sport = :${port}' | head -5; ls -l /proc/${pid}/fd | grep -c socket) 2>&1 || true`,
      { timeout: 3000 },
    ).toString();
  } catch (err) {
    return `(diagnosis failed: ${err.message})`;
  }
}

//  /readyz must say 200. Seen twice in hundreds of starts, on a loaded machine: the
//  ingress printed "listening", answered, then refused connections. Keep what the
//  system says about it, restart the ingress on another port, and go on.
async function readyOrRestartIngress(stack) {
  for (let i = 0; ; i++) {
    try {
      return await stack.waitReady(200);
    } catch (err) {
      if (i >= 2 || !/ECONNREFUSED/.test(err.message)) throw err;
      process.stderr.write(
        `e2e harness: ${err.message}\n${diagnose(stack.httpPort, stack.ingress.pid)}\n${stack.ingress.tail(10)}\nrestarting the ingress\n`,
      );
      await stack.ingress.kill();
      await stack.startIngress();
      await stack.waitListening();
    }
  }
}

//  Starts router (+ validator unless `validator: false`) and ingress for `config`, and
//  waits until the ingress reports ready. `router: false` starts the ingress alone
//  (pointing at a router endpoint nobody serves).
export async function startStack(config, { router = true, validator = true, ingressEnv = {}, routerEnv = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-'));
  const stack = new Stack({ config, dir });
  stack.ingressEnv = ingressEnv;
  try {
    await withRetries('router', async () => {
      await stack.pickPorts();
      if (router) await stack.startRouter(routerEnv);
    });
    if (router && validator) await stack.startValidator();
    await withRetries('ingress', async () => {
      await stack.startIngress();
      try {
        await stack.waitListening();
      } catch (err) {
        //  Seen once: "listening" printed, then connection refused. Retry on
        //  another port rather than fail the whole file, but say so.
        process.stderr.write(`e2e harness: ${err.message}; restarting the ingress\n${stack.ingress.tail(10)}\n`);
        await stack.ingress.kill();
        throw err;
      }
    });
    if (router) await readyOrRestartIngress(stack);
    return stack;
  } catch (err) {
    const logs = stack.logs();
    await stack.stop().catch(() => {}); // the logs above say what died
    err.message += `\n${logs}`;
    throw err;
  }
}

//  ---------------------------------------------------------------------------------
//  Redis (for the logging tests), when redis-server is installed

export function findExecutable(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

//  A throwaway redis-server (no persistence) on `port` (a free one by default).
export async function startRedis(port) {
  const bin = findExecutable('redis-server');
  if (!bin) throw new Error('redis-server not found');
  return withRetries('redis-server', async () => {
    const p = port || (await freePort());
    const svc = await startService('redis', bin, {
      args: ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      ready: /Ready to accept connections/,
    });
    svc.port = p;
    return svc;
  });
}

//  ---------------------------------------------------------------------------------
//  Raw SSE parsing for tests that read the wire themselves.

//  Splits an SSE body into events' data strings (comments and blank lines dropped).
export function sseData(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''));
    if (data.length) out.push(data.join('\n'));
  }
  return out;
}
