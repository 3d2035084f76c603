// Writes the benchmark inputs: deterministic, realistic tool results of ~1 MB each,
// as compact JSON, into the directory given as argv[2]. Same seed, same bytes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node gen_inputs.mjs OUT_DIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

// xorshift32: small, deterministic, good enough to vary shapes and values.
let state = 0x2545f491;
const rnd = () => {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 4294967296;
};
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = (a) => a[Math.floor(rnd() * a.length)];
const money = () => Math.round(rnd() * 100000) / 100;
const first = ['Ada', 'Bob', 'Chen', 'Dmitri', 'Eve', 'Fatima', 'Grace', 'Hiro', 'Ines', 'José', 'Kofi', 'Lena', 'Mia', 'Noor', 'Olga', 'Priya'];
const last = ['Lovelace', 'Smith', 'Wang', 'Ivanov', 'Martin', 'Khan', 'Hopper', 'Tanaka', 'García', 'Mensah', 'Müller', 'Rossi'];
const words = ['gateway', 'timeout', 'retry', 'stream', 'token', 'model', 'cache', 'latency', 'router', 'schema', 'tool', 'call', 'error', 'upstream', 'budget', 'region', 'quota', 'fallback'];
const sentence = (n) => Array.from({ length: n }, () => pick(words)).join(' ');
const iso = (base, i) => new Date(Date.UTC(2025, 0, 1) + base + i * 3600000).toISOString();
const name = () => `${pick(first)} ${pick(last)}`;

const inputs = {};

// 1. A paged list from a database tool: uniform rows of primitives (tabular).
inputs.users_table = {
  page: 1,
  total: 6000,
  users: Array.from({ length: 6000 }, (_, i) => {
    const n = name();
    return {
      id: 100000 + i,
      name: n,
      email: `${n.toLowerCase().replace(/[^a-z]/g, '.')}${i}@example.com`,
      role: pick(['admin', 'user', 'viewer', 'billing']),
      active: rnd() < 0.8,
      score: Math.round(rnd() * 10000) / 100,
      created_at: iso(0, i),
    };
  }),
};

// 2. Orders with nested uniform objects (tabular with nested field groups).
inputs.orders_nested = {
  orders: Array.from({ length: 4500 }, (_, i) => ({
    id: `ord_${(1000000 + i).toString(36)}`,
    customer: { name: name(), country: pick(['DK', 'UK', 'DE', 'JP', 'BR', 'IN', 'US']), tier: pick(['free', 'pro', 'team']) },
    shipping: { city: pick(['Berlin', 'Oslo', 'Tokyo', 'São Paulo', 'Pune', 'Austin']), zip: String(int(10000, 99999)) },
    items: int(1, 9),
    total: money(),
    paid: rnd() < 0.9,
  })),
};

// 3. Issue tracker search: objects with nested objects, label arrays and long
//    free text (non-uniform, so the expanded list form).
inputs.issues_mixed = Array.from({ length: 1200 }, (_, i) => ({
  id: 2000000000 + i * 7919,
  number: 4000 + i,
  title: `${sentence(int(3, 8))}${rnd() < 0.3 ? ': ' + sentence(2) : ''}`,
  user: { login: `user${int(1, 5000)}`, id: int(1, 9999999), site_admin: rnd() < 0.05 },
  labels: Array.from({ length: int(0, 3) }, () => ({ name: pick(['bug', 'enhancement', 'p1', 'needs-triage', 'docs']), color: pick(['d73a4a', 'a2eeef', '0075ca', 'e4e669']) })),
  state: pick(['open', 'closed']),
  comments: int(0, 40),
  created_at: iso(0, i * 5),
  ...(rnd() < 0.4 ? { assignee: { login: `user${int(1, 5000)}` } } : {}),
  body: `### Steps\n1. ${sentence(6)}\n2. Run \`sb-router --config "x.toml"\`\n\n${sentence(int(10, 40))}, see C:\\logs\\router.log`,
}));

// 4. Web search tool: tabular results whose strings need quoting, plus facets.
inputs.search_results = {
  query: 'ai gateway latency, p99',
  took_ms: 182,
  total: 3000,
  results: Array.from({ length: 3000 }, (_, i) => ({
    rank: i + 1,
    title: `${sentence(int(2, 6))} - ${pick(['Blog', 'Docs', 'Forum', 'News'])}`,
    url: `https://example.com/${pick(words)}/${i}?q=${pick(words)}&page=${int(1, 9)}`,
    snippet: `${sentence(int(8, 20))}, ${sentence(int(2, 5))}: ${int(1, 999)} ms.`,
    score: Math.round(rnd() * 1e6) / 1e6,
  })),
  facets: Object.fromEntries(words.map((w) => [w, int(0, 5000)])),
};

// 5. Metrics API: columnar arrays of numbers (inline primitive arrays).
inputs.metrics_timeseries = {
  location: { lat: 52.52, lon: 13.405, elevation: 38 },
  units: { temperature: '°C', humidity: '%', wind: 'km/h' },
  hourly: {
    time: Array.from({ length: 8000 }, (_, i) => iso(0, i)),
    temperature: Array.from({ length: 8000 }, () => Math.round((rnd() * 40 - 10) * 10) / 10),
    humidity: Array.from({ length: 8000 }, () => int(10, 100)),
    wind: Array.from({ length: 8000 }, () => Math.round(rnd() * 600) / 10),
    pressure: Array.from({ length: 8000 }, () => 950 + Math.round(rnd() * 8000) / 100),
  },
};

// 6. Kubernetes-style listing: deep, irregular nesting.
inputs.k8s_pods = {
  apiVersion: 'v1',
  kind: 'PodList',
  items: Array.from({ length: 700 }, (_, i) => {
    const app = pick(words);
    const labels = { app, tier: pick(['web', 'worker', 'db']) };
    if (rnd() < 0.5) labels.version = `v${int(1, 5)}.${int(0, 20)}`;
    return {
      metadata: { name: `${app}-${i.toString(16)}-${int(10000, 99999)}`, namespace: pick(['default', 'prod', 'staging']), labels, uid: `${int(1e8, 9e8)}-${int(1000, 9999)}` },
      spec: {
        containers: Array.from({ length: int(1, 3) }, (_, c) => ({
          name: `${app}-${c}`,
          image: `registry.example.com/${app}:${int(1, 9)}.${int(0, 30)}`,
          ports: [{ containerPort: int(1000, 9000), protocol: 'TCP' }],
          env: Array.from({ length: int(0, 4) }, () => ({ name: pick(words).toUpperCase(), value: String(int(0, 100)) })),
          resources: { limits: { cpu: `${int(1, 8) * 250}m`, memory: `${int(1, 16) * 128}Mi` } },
        })),
        nodeName: `node-${int(1, 40)}`,
      },
      status: { phase: pick(['Running', 'Pending', 'Succeeded', 'Failed']), restartCount: int(0, 5), startTime: iso(0, i) },
    };
  }),
};

// 7. A service registry keyed by name: an object of uniform objects (keyed tabular).
inputs.keyed_services = {
  services: Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [
    `svc-${String(i).padStart(5, '0')}`,
    { host: `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`, port: int(1024, 65535), healthy: rnd() < 0.95, latency_ms: Math.round(rnd() * 50000) / 100, region: pick(['eu-west', 'us-east', 'ap-south']) },
  ])),
};

for (const [name, value] of Object.entries(inputs)) {
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify(value));
}
console.log(`wrote ${Object.keys(inputs).length} inputs to ${outDir}`);
