// Times the reference encoder @toon-format/toon on the same inputs and in the
// same way as bench_toon.c (median of 9 batches, MB = 1e6 bytes of input JSON),
// checks that both encoders produced the same bytes, and prints the report.
// For each input the C harness runs first and the JavaScript encoder right after,
// so that both see the same machine load.
// usage: node bench_toon.mjs SECONDS RESULTS_DIR   (RESULTS_DIR holds inputs/ and
// the bench_toon binary; bench/toon/run.sh sets all of this up)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { encode } from '@toon-format/toon';

const seconds = Number(process.argv[2]) || 2;
const dir = process.argv[3];
const BATCHES = 9;
const refVersion = JSON.parse(readFileSync(new URL('./node_modules/@toon-format/toon/package.json', import.meta.url), 'utf8')).version;

const now = () => Number(process.hrtime.bigint()) / 1e9;

function measure(bytes, work) {
  const batch = seconds / BATCHES;
  let sink = 0;
  const t0 = now();
  while (now() - t0 < batch / 2) sink += work();
  const rates = [];
  for (let b = 0; b < BATCHES; b++) {
    let iters = 0;
    const start = now();
    let t;
    do {
      sink += work();
      iters++;
      t = now();
    } while (t - start < batch);
    rates.push((bytes * iters) / (t - start) / 1e6);
  }
  if (sink < 0) console.log(sink);
  rates.sort((a, b) => a - b);
  return rates[BATCHES >> 1];
}

const names = readdirSync(join(dir, 'inputs')).filter((f) => f.endsWith('.json')).sort();
const loadBefore = loadavg()[0];
const rows = [];
for (const file of names) {
  const out = execFileSync(join(dir, 'bench_toon'), [String(seconds), dir, join(dir, 'inputs', file)]);
  const c = JSON.parse(out.toString());
  const text = readFileSync(join(dir, 'inputs', `${c.name}.json`), 'utf8');
  const bytes = Buffer.byteLength(text);
  const value = JSON.parse(text);
  const js = encode(value);
  const cOut = readFileSync(join(dir, `${c.name}.c.toon`));
  const jsBuf = Buffer.from(js, 'utf8');
  const identical = Buffer.compare(cOut, jsBuf) === 0;
  const jsEncode = measure(bytes, () => encode(value).length);
  const jsFull = measure(bytes, () => encode(JSON.parse(text)).length);
  const jsParse = measure(bytes, () => (JSON.parse(text) ? 1 : 0));
  rows.push({ ...c, js_encode_mbps: jsEncode, js_parse_encode_mbps: jsFull, js_parse_mbps: jsParse, identical, js_toon_bytes: jsBuf.length });
}

const f1 = (x) => x.toFixed(1);
const lines = [];
lines.push(`TOON encode benchmark — sb_toon (C, -O2) vs @toon-format/toon ${refVersion} (node ${process.version}), ${seconds}s per measurement, median of ${BATCHES} batches`);
lines.push(`Machine: ${(await import('node:os')).cpus().length} CPUs, 1-minute load average ${loadBefore.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end (other work shares the machine; each C/JS pair runs back to back).`);
lines.push('MB/s = MB (1e6 bytes) of compact input JSON per second. "encode" = value → TOON; "parse+encode" = JSON text → TOON.');
lines.push('');
lines.push('| input | JSON bytes | TOON bytes | saving | C encode MB/s | JS encode MB/s | ratio | C parse+encode MB/s | JS parse+encode MB/s | ratio | C parse only (jansson) | JS JSON.parse only | same bytes |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
let tj = 0, tt = 0;
for (const r of rows) {
  tj += r.json_bytes;
  tt += r.toon_bytes;
  lines.push(`| ${r.name} | ${r.json_bytes} | ${r.toon_bytes} | ${f1(100 * (1 - r.toon_bytes / r.json_bytes))}% | ${f1(r.encode_mbps)} | ${f1(r.js_encode_mbps)} | ${f1(r.encode_mbps / r.js_encode_mbps)}x | ${f1(r.parse_encode_mbps)} | ${f1(r.js_parse_encode_mbps)} | ${f1(r.parse_encode_mbps / r.js_parse_encode_mbps)}x | ${f1(r.parse_mbps)} | ${f1(r.js_parse_mbps)} | ${r.identical ? 'yes' : 'NO'} |`);
}
const geo = (k1, k2) => Math.exp(rows.reduce((s, r) => s + Math.log(r[k1] / r[k2]), 0) / rows.length);
lines.push('');
lines.push(`All inputs: ${tj} JSON bytes → ${tt} TOON bytes (${f1(100 * (1 - tt / tj))}% smaller).`);
lines.push(`Geometric-mean speed ratio C/JS: encode ${f1(geo('encode_mbps', 'js_encode_mbps'))}x, parse+encode ${f1(geo('parse_encode_mbps', 'js_parse_encode_mbps'))}x.`);
lines.push(`Outputs byte-identical to the reference: ${rows.filter((r) => r.identical).length}/${rows.length}.`);
const report = lines.join('\n');
console.log(report);
writeFileSync(join(dir, 'report.md'), report + '\n');
if (rows.some((r) => !r.identical)) process.exitCode = 1;
