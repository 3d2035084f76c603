//  A minimal Redis client (RESP2 over one TCP connection, commands in order) so the
//  logging tests can read what the logger wrote without any npm dependency.

import net from 'node:net';

export class Redis {
  constructor(port, host = '127.0.0.1') {
    this.port = port;
    this.host = host;
  }

  connect() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect(this.port, this.host);
      this.buf = Buffer.alloc(0);
      this.waiting = []; // {resolve, reject} in command order
      this.sock.on('data', (d) => {
        this.buf = Buffer.concat([this.buf, d]);
        this.drain();
      });
      this.sock.on('error', (err) => {
        for (const w of this.waiting.splice(0)) w.reject(err);
        reject(err);
      });
      this.sock.on('close', () => {
        for (const w of this.waiting.splice(0)) w.reject(new Error('redis connection closed'));
      });
      this.sock.on('connect', () => resolve(this));
    });
  }

  close() {
    this.sock?.destroy();
  }

  command(...args) {
    let out = `*${args.length}\r\n`;
    for (const a of args) {
      const s = String(a);
      out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(out);
    });
  }

  drain() {
    while (this.waiting.length) {
      const parsed = parse(this.buf, 0);
      if (!parsed) return;
      this.buf = this.buf.subarray(parsed.end);
      const w = this.waiting.shift();
      if (parsed.value instanceof Error) w.reject(parsed.value);
      else w.resolve(parsed.value);
    }
  }
}

//  Parses one reply at buf[pos]; returns {value, end} or null when incomplete.
function parse(buf, pos) {
  const nl = buf.indexOf('\r\n', pos);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, nl);
  const next = nl + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new Error(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const item = parse(buf, at);
        if (!item) return null;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

//  XRANGE reply → [{id, fields: {name: value}}].
export function streamEntries(reply) {
  return (reply || []).map(([id, kv]) => {
    const fields = {};
    for (let i = 0; i < kv.length; i += 2) fields[kv[i]] = kv[i + 1];
    return { id, fields };
  });
}
