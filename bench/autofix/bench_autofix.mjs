// AutoFix benchmark: Switchboard's C pipeline (sb_autofix_run) beside the reference
// JavaScript pipeline (jsonrepair, then ajv with coerceTypes: true) on the same
// inputs — every auto_fix case of tests/data/autofix — in the same run.
// Reports throughput (calls/s, MB/s of input; median of 9 batches) and accuracy on
// the corpus: a case is right when the released arguments equal the expected ones
// (as JSON values) or, for a case that must be rejected, when nothing is released.
// A wrong answer is either a WRONG VALUE (released, but not what is expected, or
// released where it must reject) or a MISSED repair (rejected, but expected).
// usage: node bench_autofix.mjs SECONDS RESULTS_DIR   (run.sh sets this up)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg, cpus } from 'node:os';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import { jsonrepair } from 'jsonrepair';

const seconds = Number(process.argv[2]) || 2;
const out = process.argv[3];
const here = dirname(fileURLToPath(import.meta.url));
const corpus = join(here, '..', '..', 'tests', 'data', 'autofix');
const BATCHES = 9;
const version = (p) => JSON.parse(readFileSync(join(here, 'node_modules', p, 'package.json'), 'utf8')).version;

// ---- the corpus (format: tests/data/autofix/README.md) ----------------------
function parseCase(name, bytes) {
  const c = { name, tags: [], mode: 'auto_fix' };
  const text = bytes.toString('latin1'); // byte-exact; sections are ASCII
  const lines = text.split('\n');
  let sec = null;
  let body = [];
  const flush = () => {
    if (!sec) return;
    const raw = Buffer.from(body.join('\n'), 'latin1');
    const s = raw.toString('utf8');
    if (sec === 'schema') c.schema = s.trim();
    else if (sec === 'input') c.input = raw;
    else if (sec === 'input_json') c.input = Buffer.from(JSON.parse(s), 'utf8');
    else if (sec === 'expect') c.expect = s.trim();
    else if (sec === 'tags') c.tags = s.trim().split(/\s+/);
    else if (sec === 'mode') c.mode = s.trim();
  };
  for (const line of lines) {
    if (line.startsWith('@@ ')) {
      flush();
      sec = line.slice(3).trim();
      body = [];
    } else if (sec) body.push(line);
  }
  if (body.length && body[body.length - 1] === '') body.pop(); // the file's final newline
  flush();
  if (c.schema.startsWith('@')) c.schema = readFileSync(join(corpus, 'schemas', `${c.schema.slice(1)}.json`), 'utf8');
  c.schemaJson = JSON.parse(c.schema);
  return c;
}

const cases = readdirSync(corpus)
  .filter((f) => f.endsWith('.case'))
  .sort()
  .map((f) => parseCase(f, readFileSync(join(corpus, f))))
  .filter((c) => c.mode === 'auto_fix');
writeFileSync(
  join(out, 'cases.jsonl'),
  cases.map((c) => JSON.stringify({ name: c.name, schema: c.schemaJson, input_b64: c.input.toString('base64'), mode: c.mode })).join('\n') + '\n',
);

// ---- the reference pipeline ---------------------------------------------------
const validators = new Map();
function validatorFor(c) {
  let v = validators.get(c.schema);
  if (!v) {
    const draft7 = /draft-0[467]/.test(c.schemaJson.$schema || '');
    const ajv = draft7 ? new Ajv({ coerceTypes: true, strict: false }) : new Ajv2020({ coerceTypes: true, strict: false });
    v = ajv.compile(c.schemaJson);
    validators.set(c.schema, v);
  }
  return v;
}
for (const c of cases) {
  c.text = c.input.toString('utf8'); // what a JavaScript gateway receives
  c.validate = validatorFor(c);
}

function jsPipeline(text, validate) {
  let repaired;
  try {
    repaired = jsonrepair(text);
  } catch {
    return null;
  }
  let value;
  try {
    value = JSON.parse(repaired);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  if (!validate(value)) return null;
  return JSON.stringify(value);
}

// ---- accuracy -------------------------------------------------------------------
function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}
const parseOr = (t) => {
  try {
    return JSON.parse(t);
  } catch {
    return Symbol('unparsable');
  }
};
function judge(c, released) {
  const want = c.expect === 'null' ? null : c.expect === '=input' ? c.text : c.expect;
  if (want === null) return released === null ? 'right' : 'wrong_value';
  if (released === null) return 'missed';
  return deepEqual(parseOr(released), parseOr(want)) ? 'right' : 'wrong_value';
}

const cOut = JSON.parse(execFileSync(join(out, 'bench_autofix'), [String(seconds), join(out, 'cases.jsonl'), join(out, 'c_results.jsonl')]).toString());
const cReleased = new Map(
  readFileSync(join(out, 'c_results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map((r) => [r.name, r.arguments]),
);

const groups = ['all', 'realistic', 'control', 'reject'];
const tally = (which) => Object.fromEntries(groups.map((g) => [g, { n: 0, right: 0, wrong_value: 0, missed: 0 }]));
const acc = { c: tally(), js: tally() };
let cExact = 0;
let cExpectedArgs = 0;
const jsMistakes = [];
const cMistakes = [];
for (const c of cases) {
  const verdicts = { c: judge(c, cReleased.get(c.name)), js: judge(c, jsPipeline(c.text, c.validate)) };
  if (c.expect !== 'null') {
    cExpectedArgs++;
    const want = c.expect === '=input' ? c.input : Buffer.from(c.expect, 'utf8');
    const got = cReleased.get(c.name);
    if (got !== null && Buffer.from(got, 'utf8').equals(want)) cExact++;
  }
  for (const who of ['c', 'js']) {
    for (const g of groups) {
      if (g !== 'all' && !c.tags.includes(g)) continue;
      acc[who][g].n++;
      acc[who][g][verdicts[who]]++;
    }
  }
  if (verdicts.js !== 'right') jsMistakes.push(`${c.name} (${verdicts.js})`);
  if (verdicts.c !== 'right') cMistakes.push(`${c.name} (${verdicts.c})`);
}

// ---- throughput of the reference --------------------------------------------------
const now = () => Number(process.hrtime.bigint()) / 1e9;
const bytesPerPass = cases.reduce((s, c) => s + c.input.length, 0);
let sink = 0;
function pass() {
  for (const c of cases) {
    const r = jsPipeline(c.text, c.validate);
    sink += r === null ? 0 : r.length;
  }
}
function measureJs() {
  const batch = seconds / BATCHES;
  const t0 = now();
  pass();
  while (now() - t0 < batch / 2) pass();
  const calls = [];
  const mbs = [];
  for (let b = 0; b < BATCHES; b++) {
    let passes = 0;
    const start = now();
    let t;
    do {
      pass();
      passes++;
      t = now();
    } while (t - start < batch);
    calls.push((passes * cases.length) / (t - start));
    mbs.push((passes * bytesPerPass) / (t - start) / 1e6);
  }
  calls.sort((a, b) => a - b);
  mbs.sort((a, b) => a - b);
  return { calls_per_s: calls[BATCHES >> 1], mb_per_s: mbs[BATCHES >> 1] };
}
const loadBefore = loadavg()[0];
const jsOut = measureJs();
if (sink < 0) console.log(sink);

// ---- report ------------------------------------------------------------------------
const pct = (t) => (t.n ? `${((100 * t.right) / t.n).toFixed(1)}% (${t.right}/${t.n})` : '-');
const lines = [];
lines.push('# AutoFix benchmark');
lines.push('');
lines.push(`${cases.length} auto_fix cases of tests/data/autofix (${bytesPerPass} bytes of input per pass), ${seconds}s per measurement, median of ${BATCHES} batches.`);
lines.push(`C: sb_autofix_run + report to JSON. JS: jsonrepair ${version('jsonrepair')} then ajv ${version('ajv')} (coerceTypes: true), node ${process.version}.`);
lines.push(`Machine: ${cpus().length} x ${cpus()[0].model}; load average ${loadBefore.toFixed(2)} before the JS run.`);
lines.push('');
lines.push('| | calls/s | MB/s |');
lines.push('|---|---:|---:|');
lines.push(`| C (AutoFix) | ${cOut.calls_per_s.toFixed(0)} | ${cOut.mb_per_s.toFixed(2)} |`);
lines.push(`| JS (jsonrepair + ajv) | ${jsOut.calls_per_s.toFixed(0)} | ${jsOut.mb_per_s.toFixed(2)} |`);
lines.push(`| ratio C / JS | ${(cOut.calls_per_s / jsOut.calls_per_s).toFixed(2)}x | ${(cOut.mb_per_s / jsOut.mb_per_s).toFixed(2)}x |`);
lines.push('');
lines.push('| accuracy | C (AutoFix) | JS (jsonrepair + ajv) |');
lines.push('|---|---:|---:|');
for (const g of groups) lines.push(`| ${g === 'all' ? 'all cases' : `tag ${g}`} | ${pct(acc.c[g])} | ${pct(acc.js[g])} |`);
lines.push(`| wrong values (all cases) | ${acc.c.all.wrong_value} | ${acc.js.all.wrong_value} |`);
lines.push(`| missed repairs (all cases) | ${acc.c.all.missed} | ${acc.js.all.missed} |`);
lines.push('');
lines.push(`C arguments byte-exact (keys in order, lexemes kept) in ${cExact}/${cExpectedArgs} cases that expect arguments.`);
lines.push('');
lines.push(`C mistakes: ${cMistakes.length ? cMistakes.join(', ') : 'none'}`);
lines.push('');
lines.push(`JS mistakes: ${jsMistakes.join(', ')}`);
const report = lines.join('\n') + '\n';
writeFileSync(join(out, 'report.md'), report);
process.stdout.write(report);
