// Switchboard dashboard: one WebSocket (/ws) for live snapshots and finished
// requests, the logs API (/api/logs) for history and details. Everything shown
// goes through textContent: records carry client-controlled text.
'use strict';

const TOKEN_KEY = 'sb-admin-token';
const MAX_ROWS = 200;
const HISTORY = 120; // chart points (one a second)

const $ = (id) => document.getElementById(id);
const state = {
  ws: null,
  retry: 0,
  rows: new Map(), // request_id -> row element
  history: [],
  selected: null,
  noteTimer: 0,
};

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k === 'title') node.title = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// ---- formatting

function fmtRate(v) {
  if (v === null || v === undefined) return '–';
  if (v === 0) return '0';
  if (v < 10) return v.toFixed(2);
  if (v < 100) return v.toFixed(1);
  if (v < 10000) return Math.round(v).toLocaleString('en-US');
  return `${(v / 1000).toFixed(1)}k`;
}
function fmtMs(v) {
  if (v === null || v === undefined) return '–';
  if (v === 0) return '0 ms';
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 1000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}
function fmtInt(v) { return v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en-US'); }
function fmtBytes(v) {
  if (v === null || v === undefined) return '–';
  if (v < 1024) return `${v} B`;
  if (v < 1048576) return `${(v / 1024).toFixed(1)} KB`;
  return `${(v / 1048576).toFixed(1)} MB`;
}
function fmtPct(v) { return v === null || v === undefined ? '–' : `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`; }
function fmtTime(tsUs) {
  const d = new Date(tsUs / 1000);
  return d.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}
function statusClass(s) { return s >= 500 || s === 0 ? 's5' : s >= 400 ? 's4' : 's2'; }
function setText(id, text) { const n = $(id); if (n.textContent !== text) n.textContent = text; }
function setPill(id, stateName, text) { const n = $(id); n.dataset.state = stateName; n.textContent = text; }

// ---- sign-in

function showLogin(message) {
  $('app').hidden = true;
  $('detail').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  setText('login-error', message || '');
  setPill('conn', 'idle', 'not connected');
  $('token').focus();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  showLogin(message);
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const value = $('token').value.trim();
  if (!value) return;
  sessionStorage.setItem(TOKEN_KEY, value);
  $('token').value = '';
  start();
});
$('logout').addEventListener('click', () => signOut(''));

// ---- the WebSocket

function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  setPill('conn', 'connecting', 'connecting…');
  const ws = new WebSocket(url, 'sb-dashboard');
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: token() }));
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === 'hello') {
      state.retry = 0;
      setPill('conn', 'live', 'live');
      loadHistory();
    } else if (msg.type === 'snapshot') renderSnapshot(msg);
    else if (msg.type === 'requests') {
      for (const item of msg.data) addRow(item, true);
      if (msg.more) {
        // More finished than the feed sends (50 per quarter second): say so for a while.
        setText('requests-note', 'busy: not every request is listed live');
        clearTimeout(state.noteTimer);
        state.noteTimer = setTimeout(() => setText('requests-note', ''), 5000);
      }
    }
  };
  ws.onclose = (ev) => {
    state.ws = null;
    if (ev.code === 1008) { signOut('That token was refused.'); return; }
    setPill('conn', 'down', 'reconnecting…');
    const delay = Math.min(10000, 500 * 2 ** state.retry++);
    setTimeout(() => { if (token() && !state.ws) connect(); }, delay);
  };
}

function start() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  connect();
}

// ---- API

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${token()}` }, cache: 'no-store' });
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (res.status === 401) { signOut('That token was refused.'); throw new Error('unauthorized'); }
  if (!res.ok) throw new Error((body && body.error && body.error.message) || `HTTP ${res.status}`);
  return body;
}

async function loadHistory() {
  try {
    const list = await api('/api/logs?limit=50');
    // Oldest first, each added on top: the newest ends up first.
    for (const item of list.data.slice().reverse()) addRow(item, false);
    setText('requests-note', '');
  } catch (err) {
    setText('requests-note', `history unavailable: ${err.message}`);
  }
}

// ---- snapshot

function renderSnapshot(msg) {
  const m = msg.metrics;
  setPill('redis', msg.redis === 'up' ? 'up' : 'down', msg.redis === 'up' ? 'logs up' : 'logs down');
  const services = {};
  for (const i of m.instances) services[i.service] = (services[i.service] || 0) + 1;
  const inst = Object.entries(services).map(([s, n]) => (n > 1 ? `${s}×${n}` : s)).join(' · ');
  setText('instances', inst || 'no services reporting');
  $('instances').title = m.instances.map((i) => `${i.instance} (${i.age_ms} ms ago)`).join('\n');

  setText('rps', fmtRate(m.rps));
  setText('total-requests', fmtInt(m.totals.requests));
  setText('p50', fmtMs(m.latency_ms.p50));
  setText('p95', fmtMs(m.latency_ms.p95));
  setText('p99', fmtMs(m.latency_ms.p99));
  setText('mean', fmtMs(m.latency_ms.mean));
  setText('errors', fmtRate(m.errors_per_s));
  $('errors').classList.toggle('bad', m.errors_per_s > 0);
  setText('error-rate', fmtPct(m.error_rate));
  setText('total-errors', fmtInt(m.totals.errors));
  setText('tps', fmtRate(m.tokens_per_s.total));
  setText('tps-in', fmtRate(m.tokens_per_s.prompt));
  setText('tps-out', fmtRate(m.tokens_per_s.completion));
  setText('active', fmtInt(m.active_requests));
  setText('inflight', fmtInt(m.ingress_inflight));
  setText('failovers', fmtInt(m.totals.failovers));
  setText('failovers-rate', fmtRate(m.failovers_per_s));
  setText('tools', `${fmtInt(m.totals.tool_calls_fixed)} · ${fmtInt(m.totals.tool_calls_invalid)}`);
  setText('tools-valid', fmtInt(m.totals.tool_calls_valid));
  setText('toon', fmtBytes(m.totals.toon_bytes_saved));

  renderChannels(m.channels);
  state.history.push({ rps: m.rps, err: m.errors_per_s, p50: m.latency_ms.p50, p99: m.latency_ms.p99 });
  if (state.history.length > HISTORY) state.history.shift();
  drawChart($('chart-rps'), [['rps', '#2f6fed'], ['err', '#d63a3a']], fmtRate);
  drawChart($('chart-latency'), [['p50', '#1f9d55'], ['p99', '#c77c02']], fmtMs);
}

function renderChannels(channels) {
  const body = $('channels').tBodies[0];
  body.replaceChildren(...channels.map((c) => el('tr', {},
    el('td', {}, c.group), el('td', {}, c.channel),
    el('td', { class: `state ${c.state}` }, c.state.replace('_', '-')),
    el('td', { class: 'num' }, fmtPct(c.error_rate)),
    el('td', { class: 'num' }, c.latency_ms !== null && c.latency_ms >= 0 ? fmtMs(c.latency_ms) : '–'))));
  $('channels-empty').hidden = channels.length > 0;
}

// ---- charts (canvas, no library)

function drawChart(canvas, series, fmt) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (!w || !h) return;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const pad = { l: 54, r: 8, t: 8, b: 16 };
  let max = 0;
  for (const p of state.history) for (const [k] of series) if (p[k] > max) max = p[k];
  max = max > 0 ? niceMax(max) : 1;
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#6b7385';
  g.strokeStyle = '#eef0f3';
  g.lineWidth = 1;
  for (let i = 0; i <= 3; i++) {
    const y = pad.t + (h - pad.t - pad.b) * (i / 3);
    g.beginPath(); g.moveTo(pad.l, y + 0.5); g.lineTo(w - pad.r, y + 0.5); g.stroke();
    g.textAlign = 'right';
    g.fillText(fmt(max * (1 - i / 3)), pad.l - 6, y + 4);
  }
  g.textAlign = 'left';
  g.fillText(`last ${HISTORY} s`, pad.l, h - 3);
  const step = (w - pad.l - pad.r) / (HISTORY - 1);
  const x0 = w - pad.r - (state.history.length - 1) * step;
  for (const [k, color] of series) {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    let drawing = false;
    state.history.forEach((p, i) => {
      const v = p[k];
      if (v === null || v === undefined) { drawing = false; return; }
      const x = x0 + i * step, y = pad.t + (h - pad.t - pad.b) * (1 - v / max);
      if (drawing) g.lineTo(x, y); else g.moveTo(x, y);
      drawing = true;
    });
    g.stroke();
  }
}

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// ---- latest requests

function toolTag(tv) {
  if (!tv) return null;
  if (tv.startsWith('skipped')) return el('span', { class: 'tag', title: tv }, 'skipped');
  const fixed = /fixed=(\d+)/.exec(tv), invalid = /invalid=(\d+)/.exec(tv);
  if (invalid && +invalid[1] > 0) return el('span', { class: 'tag invalid', title: tv }, `${invalid[1]} invalid`);
  if (fixed && +fixed[1] > 0) return el('span', { class: 'tag fixed', title: tv }, `${fixed[1]} fixed`);
  return el('span', { class: 'tag', title: tv }, 'valid');
}

function addRow(item, live) {
  const r = item.record || {};
  const key = item.request_id || item.id;
  if (state.rows.has(key)) return;
  const total = r.timings_us ? r.timings_us.total / 1000 : null;
  const tokens = r.usage ? r.usage.total_tokens : null;
  const tr = el('tr', { 'data-request-id': key, title: r.error || '' },
    el('td', {}, fmtTime(item.ts_us)),
    el('td', {}, el('span', { class: `status-code ${statusClass(r.status)}` }, r.status),
      r.stream ? el('span', { class: 'tag stream' }, 'stream') : null),
    el('td', {}, r.model || ''),
    el('td', {}, r.channel || '–', r.attempts > 1 ? el('span', { class: 'tag', title: 'attempts' }, `×${r.attempts}`) : null),
    el('td', {}, r.key || ''),
    el('td', { class: 'num' }, fmtMs(total)),
    el('td', { class: 'num' }, fmtInt(tokens)),
    el('td', {}, toolTag(r.tool_validation)),
    el('td', { class: 'id' }, key));
  if (live) tr.classList.add('fresh');
  tr.addEventListener('click', () => openDetail(key, tr));
  const body = $('requests').tBodies[0];
  body.insertBefore(tr, body.firstChild);
  state.rows.set(key, tr);
  while (body.rows.length > MAX_ROWS) {
    const last = body.rows[body.rows.length - 1];
    state.rows.delete(last.dataset.requestId);
    last.remove();
  }
  $('requests-empty').hidden = true;
}

// ---- one request

function prettyJson(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

function facts(pairs) {
  const dl = el('dl', { class: 'facts' });
  for (const [k, v] of pairs) if (v !== undefined && v !== null && v !== '') dl.append(el('dt', {}, k), el('dd', {}, v));
  return dl;
}

async function openDetail(id, tr) {
  if (state.selected) state.selected.classList.remove('selected');
  state.selected = tr;
  if (tr) tr.classList.add('selected');
  const body = $('detail-body');
  setText('detail-title', id);
  body.replaceChildren(el('p', { class: 'note' }, 'Loading…'));
  $('detail').hidden = false;
  let d;
  try {
    d = await api(`/api/logs/${encodeURIComponent(id)}`);
  } catch (err) {
    body.replaceChildren(el('p', { class: 'error' }, err.message));
    return;
  }
  const r = d.record || {};
  const t = r.timings_us || {};
  const u = r.usage || {};
  const parts = [
    facts([
      ['Status', el('span', { class: `status-code ${statusClass(r.status)}` }, r.status)],
      ['Time', new Date(d.ts_us / 1000).toISOString()],
      ['Model', r.model], ['Group', r.group], ['Channel', r.channel], ['Key', r.key],
      ['Attempts', r.attempts], ['Stream', r.stream ? 'yes' : 'no'],
      ['First byte', t.first_byte ? fmtMs(t.first_byte / 1000) : null], ['Total', t.total ? fmtMs(t.total / 1000) : null],
      ['Tokens', u.total_tokens !== undefined ? `${u.prompt_tokens} in · ${u.completion_tokens} out` : null],
      ['Tool validation', r.tool_validation], ['TOON saved', r.toon_bytes_saved ? fmtBytes(r.toon_bytes_saved) : null],
      ['Error', r.error],
    ]),
  ];
  if (Array.isArray(r.attempt_log) && r.attempt_log.length) {
    parts.push(el('section', {}, el('h3', {}, 'Attempts'),
      el('table', {}, el('tbody', {}, ...r.attempt_log.map((a, i) => el('tr', {},
        el('td', {}, `#${i + 1}`), el('td', {}, a.channel),
        el('td', {}, el('span', { class: `status-code ${statusClass(a.status)}` }, a.status)),
        el('td', { class: 'num' }, `${a.ms} ms`)))))));
  }
  if (d.request_body !== undefined)
    parts.push(el('section', {}, el('h3', {}, `Request body${r.request_cut ? ' (cut)' : ''}`),
      el('pre', { class: 'body', id: 'detail-request' }, prettyJson(d.request_body))));
  if (d.response_body !== undefined)
    parts.push(el('section', {}, el('h3', {}, `Response body${r.response_cut ? ' (cut)' : ''}`),
      el('pre', { class: 'body', id: 'detail-response' }, prettyJson(d.response_body))));
  if (Array.isArray(d.chunks)) {
    const list = el('div', { class: 'chunks', id: 'detail-chunks' },
      ...d.chunks.map((c) => el('div', { class: 'chunk' },
        el('span', { class: 'at' }, `+${c.offset_ms} ms`), el('pre', {}, c.data.replace(/\n+$/, '')))));
    const text = assembled(d.chunks);
    if (text) parts.push(el('section', {}, el('h3', {}, 'Streamed text'), el('pre', { class: 'body assembled', id: 'detail-text' }, text)));
    const note = [`${d.chunks.length} chunks`];
    if (r.chunks_cut || d.chunks_truncated) note.push('cut');
    if (d.chunks_malformed) note.push('capture malformed');
    parts.push(el('section', {}, el('h3', {}, `Stream (${note.join(', ')})`), list));
  }
  if (d.bodies_lossy) parts.push(el('p', { class: 'note' }, 'Bytes that were not UTF-8 are shown as �.'));
  body.replaceChildren(...parts);
}

// The text a client saw: the content deltas of an OpenAI-style stream.
function assembled(chunks) {
  let text = '';
  for (const c of chunks) {
    for (const line of c.data.split('\n')) {
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      try {
        const ev = JSON.parse(line.slice(6));
        const delta = ev.choices && ev.choices[0] && ev.choices[0].delta;
        if (delta && typeof delta.content === 'string') text += delta.content;
      } catch { /* a line split across chunks: skipped */ }
    }
  }
  return text;
}

function closeDetail() {
  $('detail').hidden = true;
  if (state.selected) state.selected.classList.remove('selected');
  state.selected = null;
}
$('detail-close').addEventListener('click', closeDetail);
document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closeDetail(); });
window.addEventListener('resize', () => {
  drawChart($('chart-rps'), [['rps', '#2f6fed'], ['err', '#d63a3a']], fmtRate);
  drawChart($('chart-latency'), [['p50', '#1f9d55'], ['p99', '#c77c02']], fmtMs);
});

if (token()) start(); else showLogin('');
