// What a hostile web page on the same machine (or a client holding
// connections) can send, as raw requests over loopback (issue 10): Host and
// Origin checks, JSON-only bodies, unknown body keys, one export at a time,
// HEAD on the stream, slowloris connections, the warning for a server
// without a token beyond loopback. The same attacks from a real browser are
// in hostile-page.test.ts.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createMetricsHandler, serve, type RunningServer } from '../../src/http/index.js';
import { isLoopbackAddress, warnIfUnauthenticated } from '../../src/http/serve.js';
import { http, newCollector, tempDir } from '../helpers/export-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

const JSON_TYPE = { 'content-type': 'application/json' };

/** A request over a raw socket (any Host, any header), answered status and body. */
function raw(port: number, text: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    s.setTimeout(HANG_GUARD_MS, () => s.destroy(new Error('no answer (a hang)')));
    // Connection: close, so the answer ends the exchange.
    s.on('connect', () => s.write(text.replace('\r\n', '\r\nConnection: close\r\n')));
    s.on('data', (d) => {
      data += d;
      // One answer is enough (the server may keep the connection open).
      const head = data.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(data);
      if (head >= 0 && len && data.length >= head + 4 + Number(len[1])) s.end();
    });
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), text: data }));
    s.on('error', reject);
  });
}

describe('Host, Origin and body type', () => {
  let srv: RunningServer;
  const tmp = tempDir();
  const c = newCollector({ exportDirectory: tmp.dir });
  const ROUTES: Array<[string, string]> = [
    ['GET', '/api/metrics/processing/stats'], ['GET', '/api/metrics/memory/stats'], ['GET', '/api/metrics/gpu/stats'],
    ['GET', '/api/metrics/operations/summary'], ['POST', '/api/metrics/export/json'], ['POST', '/api/metrics/export/csv'],
    ['POST', '/api/metrics/monitoring/start'], ['POST', '/api/metrics/monitoring/stop'], ['POST', '/api/metrics/clear'],
    ['GET', '/metrics'], ['GET', '/'], ['GET', '/assets/app.js'], ['GET', '/api/metrics/stream'], ['HEAD', '/api/metrics/stream'], ['GET', '/no/such/path'],
  ];
  before(async () => {
    for (let i = 0; i < 10; i++) c.recordProcessingTime('op', i + 1);
    srv = await serve({ port: 0, collector: c as never, dashboard: true, allowedHosts: ['perf.internal', 'box.lan:8443'] });
  });
  after(async () => {
    await srv.close();
    tmp.cleanup();
  });
  const untouched = () => {
    assert.equal(c.getProcessingTimeStats().count, 10, 'nothing was cleared');
    assert.deepEqual(readdirSync(tmp.dir), [], 'nothing was exported');
  };

  test('a Host that is not the server (DNS rebinding) is 403 with a JSON error on every route', async () => {
    const p = srv.port;
    for (const host of [`evil.example:${p}`, 'evil.example', `127.0.0.1:${p + 1}`, `localhost:${p + 1}`, `127.0.0.2:${p}`, `perf.internal.evil.example:${p}`, `box.lan:${p}`, `localhost.:${p}`, '', 'a b']) {
      for (const [method, path] of ROUTES) {
        const r = await raw(p, `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
        assert.equal(r.status, 403, `${method} ${path} Host: ${host}: ${r.text.slice(0, 120)}`);
        if (method === 'HEAD') continue;
        const body = JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4));
        assert.equal(body.success, false);
        assert.match(body.error, /^Host .* is not this server's address; allow a name with the allowedHosts option/);
      }
    }
    untouched();
  });

  test('the bound address, localhost, 127.0.0.1, [::1] with the port, and the allowed names are accepted', async () => {
    const p = srv.port;
    for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `LOCALHOST:${p}`, `[::1]:${p}`, `perf.internal:${p}`, 'perf.internal:443', 'Perf.Internal', 'box.lan:8443']) {
      const r = await raw(p, `GET /api/metrics/processing/stats HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.equal(r.status, 200, `Host: ${host}: ${r.text.slice(0, 120)}`);
    }
    // HTTP/1.0 without Host (no browser sends that): accepted.
    assert.equal((await raw(p, 'GET /metrics HTTP/1.0\r\n\r\n')).status, 200);
    untouched();
  });

  test('allowedHosts is checked up front, naming the entry', () => {
    for (const bad of [['ok.example', 'two words'], [''], [7], ['http://x.example'], ['x.example/path']]) {
      assert.throws(() => createMetricsHandler(c as never, { allowedHosts: bad as never }), (e: Error & { code?: string }) =>
        e instanceof TypeError && /^allowedHosts\[\d\] must be a host name, an IP address, name:port or '\*'/.test(e.message) && e.code === 'ERR_PERFPROBE_INVALID_ARGUMENT', JSON.stringify(bad));
    }
    assert.throws(() => createMetricsHandler(c as never, { allowedHosts: 'x.example' as never }), /^TypeError: allowedHosts must be an array of host names/);
  });

  test("an Origin that is not the server's own is 403; the own origin passes", async () => {
    const own = `http://127.0.0.1:${srv.port}`;
    for (const origin of ['http://evil.example', `http://localhost:${srv.port}`, `http://127.0.0.1:${srv.port + 1}`, 'null', 'file://', 'junk']) {
      for (const [method, path] of ROUTES) {
        const r = await http(srv.url, method, path, { headers: { origin, ...JSON_TYPE }, body: method === 'POST' ? '{}' : undefined });
        assert.equal(r.status, 403, `${method} ${path} Origin: ${origin}`);
        if (method !== 'HEAD') assert.match(r.json().error, /^Origin .* is not this server's origin: cross-site requests are refused$/);
      }
    }
    untouched();
    const ok = await http(srv.url, 'GET', '/api/metrics/processing/stats', { headers: { origin: own } });
    assert.equal(ok.status, 200);
    const https = await http(srv.url, 'GET', '/api/metrics/processing/stats', { headers: { origin: `https://127.0.0.1:${srv.port}` } });
    assert.equal(https.status, 200, 'same host and port through a TLS proxy');
  });

  test('what a form or a no-cors fetch can send to a mutating route is refused with 415 and changes nothing', async () => {
    // A <form> can send only these three types; a no-cors fetch also text/plain, or a Blob body with no type.
    const bodies: Array<[Record<string, string>, string]> = [
      [{ 'content-type': 'text/plain' }, '{"metric_type":null}'],
      [{ 'content-type': 'text/plain;charset=UTF-8' }, '{"metric_type":null}'],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, ''],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 'metric_type=processing'],
      [{ 'content-type': 'multipart/form-data; boundary=x' }, '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n'],
      [{}, '{"metric_type":null}'],
      [{ 'content-type': 'application/json; charset=latin1' }, '{}'],
      [{ 'content-type': 'application/jsonp' }, '{}'],
    ];
    for (const path of ['/api/metrics/clear', '/api/metrics/export/json', '/api/metrics/export/csv', '/api/metrics/monitoring/start']) {
      for (const [headers, body] of bodies) {
        const r = await http(srv.url, 'POST', path, { headers, body });
        assert.equal(r.status, 415, `${path} ${JSON.stringify(headers)} ${body}: ${r.text}`);
        assert.equal(r.json().success, false);
        assert.match(r.json().error, /Content-Type/);
      }
    }
    untouched();
    // What the API's own clients send still works: JSON with or without a charset, or no body at all.
    assert.equal((await http(srv.url, 'POST', '/api/metrics/monitoring/stop')).status, 200);
    assert.equal((await http(srv.url, 'POST', '/api/metrics/monitoring/stop', { headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{}' })).status, 200);
  });

  test('unknown keys in a JSON body are a 400 naming the key, and change nothing', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['/api/metrics/clear', '{"metricType":"gpu"}', /unknown key "metricType" \(the only key is "metric_type"\)/],
      ['/api/metrics/export/csv', '{"type":"gpu"}', /unknown key "type" \(the only key is "metric_type"\)/],
      ['/api/metrics/export/csv', '{"metric_type":"gpu","extra":1}', /unknown key "extra"/],
      ['/api/metrics/export/json', '{"metric_type":"gpu"}', /unknown key "metric_type" \(this route takes no keys\)/],
      ['/api/metrics/monitoring/start', '{"interval":1}', /unknown key "interval"/],
      ['/api/metrics/clear', '{"__proto__":{"metric_type":"gpu"}}', /unknown key "__proto__"/],
      ['/api/metrics/clear', '{"constructor":1}', /unknown key "constructor"/],
    ];
    for (const [path, body, re] of cases) {
      const r = await http(srv.url, 'POST', path, { headers: JSON_TYPE, body });
      assert.equal(r.status, 400, `${path} ${body}: ${r.text}`);
      assert.match(r.json().error, re);
    }
    untouched();
  });

  test('deep or wide JSON bodies within 64 KiB are a clean 400; the server keeps answering', async () => {
    const deep = 30_000;
    const cases = [
      `{"metric_type":${'['.repeat(deep)}${']'.repeat(deep)}}`,
      `${'['.repeat(deep)}${']'.repeat(deep)}`,
      `{"metric_type":${'{"a":'.repeat(6000)}1${'}'.repeat(6000)}}`,
      `{${Array.from({ length: 4000 }, (_, i) => `"k${i}":1`).join(',')}}`,
    ];
    for (const body of cases) {
      assert.ok(body.length <= 65536, String(body.length));
      const r = await http(srv.url, 'POST', '/api/metrics/clear', { headers: JSON_TYPE, body });
      assert.equal(r.status, 400, r.text.slice(0, 200));
      assert.equal(r.json().success, false);
    }
    untouched();
    assert.equal((await http(srv.url, 'GET', '/api/metrics/processing/stats')).status, 200);
  });

  test('HEAD /api/metrics/stream answers with the stream headers and no body', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await http(srv.url, 'HEAD', '/api/metrics/stream');
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^text\/event-stream/);
      assert.equal(r.text, '');
    }
  });
});

describe('one export at a time', () => {
  test('a second export while one runs is 429 with Retry-After; later ones run', async () => {
    const tmp = tempDir();
    const c = newCollector({ exportDirectory: tmp.dir });
    c.recordProcessingTime('op', 1);
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    let running = 0;
    const realJson = c.exportToJson.bind(c);
    const realCsv = c.exportToCsv.bind(c);
    c.exportToJson = async () => {
      running++;
      await gate;
      return realJson();
    };
    c.exportToCsv = async (type) => {
      running++;
      await gate;
      return realCsv(type);
    };
    const srv = await serve({ port: 0, collector: c as never });
    try {
      const first = http(srv.url, 'POST', '/api/metrics/export/json');
      while (running === 0) await new Promise((r) => setTimeout(r, 5));
      // 20 more while the first runs: every one refused at once, none started.
      const more = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          http(srv.url, 'POST', i % 2 ? '/api/metrics/export/json' : '/api/metrics/export/csv', { headers: JSON_TYPE, body: i % 2 ? '{}' : '{"metric_type":"processing"}' }),
        ),
      );
      for (const r of more) {
        assert.equal(r.status, 429, r.text);
        assert.equal(r.headers['retry-after'], '1');
        assert.match(r.json().error, /an export is already running/);
      }
      assert.equal(running, 1);
      release();
      assert.equal((await first).status, 200);
      assert.equal(readdirSync(tmp.dir).length, 1, 'one file written');
      gate = Promise.resolve();
      const next = await http(srv.url, 'POST', '/api/metrics/export/csv');
      assert.equal(next.status, 200, 'the slot is free again');
      // A failing export frees the slot too.
      c.exportToJson = async () => {
        throw new Error('disk full');
      };
      assert.equal((await http(srv.url, 'POST', '/api/metrics/export/json')).status, 500);
      c.exportToJson = realJson;
      assert.equal((await http(srv.url, 'POST', '/api/metrics/export/json')).status, 200);
    } finally {
      release();
      await srv.close();
      tmp.cleanup();
    }
  });
});

describe('createMetricsHandler mounted in an app', () => {
  let server: Server;
  let port: number;
  const c = newCollector();
  before(async () => {
    c.recordProcessingTime('op', 1);
    const handler = createMetricsHandler(c as never, { allowedHosts: ['app.example'] });
    server = createServer((req, res) =>
      handler(req, res, () => {
        res.writeHead(299);
        res.end('the app');
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('owns the Host and Origin checks of its routes; the app keeps its own paths', async () => {
    assert.equal((await raw(port, `GET /metrics HTTP/1.1\r\nHost: evil.example:${port}\r\n\r\n`)).status, 403);
    assert.equal((await raw(port, 'GET /metrics HTTP/1.1\r\nHost: app.example\r\n\r\n')).status, 200);
    assert.equal((await raw(port, `POST /api/metrics/clear HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\n\r\n`)).status, 403);
    assert.equal((await raw(port, `GET /app HTTP/1.1\r\nHost: evil.example\r\n\r\n`)).status, 299, 'not our path: the app decides');
    assert.equal(c.getProcessingTimeStats().count, 1);
  });
});

describe('slowloris: serve() drops connections that hold it', () => {
  /** Opens a socket that writes `text` and then nothing; resolves when the server closes it. */
  function hold(port: number, text: string): { closed: Promise<string>; socket: Socket } {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('error', () => {});
    socket.on('connect', () => {
      if (text) socket.write(text);
    });
    return { socket, closed: new Promise((r) => socket.on('close', () => r(data))) };
  }
  /** Waits until all the promises settled (or HANG_GUARD_MS, a hang): how many did. */
  async function settled(ps: Promise<unknown>[], ms = HANG_GUARD_MS): Promise<number> {
    let done = 0;
    for (const p of ps) void p.then(() => done++);
    const end = Date.now() + ms;
    while (done < ps.length && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return done;
  }

  test('partial headers, a slow body and idle keep-alive connections are all closed', async () => {
    const srv = await serve({ port: 0, collector: newCollector() as never, headersTimeoutMs: 200, requestTimeoutMs: 400, keepAliveTimeoutMs: 100 });
    const held: Array<{ closed: Promise<string>; socket: Socket }> = [];
    try {
      const p = srv.port;
      for (let i = 0; i < 10; i++) held.push(hold(p, ''));
      for (let i = 0; i < 10; i++) held.push(hold(p, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nX-Slow: `));
      for (let i = 0; i < 10; i++) held.push(hold(p, `POST /api/metrics/clear HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"me`));
      for (let i = 0; i < 10; i++) held.push(hold(p, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\n\r\n`));
      const closed = await settled(held.map((h) => h.closed));
      assert.equal(closed, 40, `${40 - closed} of 40 connections still held`);
      const answers = await Promise.all(held.map((h) => h.closed));
      for (const a of answers.slice(0, 30)) assert.ok(a === '' || /^HTTP\/1\.1 408/.test(a), a.slice(0, 60));
      for (const a of answers.slice(30)) assert.match(a, /^HTTP\/1\.1 200/, 'the keep-alive ones were answered, then closed');
    } finally {
      for (const h of held) h.socket.destroy();
      await srv.close();
    }
  });

  test('connections over maxConnections are closed as they arrive', async () => {
    const srv = await serve({ port: 0, collector: newCollector() as never, maxConnections: 5, headersTimeoutMs: 3_600_000 }); // the five must outlast the test, however slow
    const held: Array<{ closed: Promise<string>; socket: Socket }> = [];
    try {
      const first = Array.from({ length: 5 }, () => hold(srv.port, 'GET /metrics HTTP/1.1\r\n'));
      held.push(...first);
      // Let the five be accepted before the next ones arrive.
      await Promise.all(first.map((h) => new Promise((r) => (h.socket.readyState === 'open' ? r(null) : h.socket.once('connect', r)))));
      await new Promise((r) => setTimeout(r, 100));
      const extra = Array.from({ length: 3 }, () => hold(srv.port, ''));
      held.push(...extra);
      assert.equal(await settled(extra.map((h) => h.closed)), 3, 'the connections over the cap were closed');
      let stillOpen = 0;
      for (const h of first) if (!h.socket.destroyed && h.socket.readyState === 'open') stillOpen++;
      assert.equal(stillOpen, 5, 'the five within the cap are kept (their headers have an hour)');
    } finally {
      for (const h of held) h.socket.destroy();
      await srv.close();
    }
  });

  test('serve() refuses bad timeout and cap options, naming them', async () => {
    for (const [key, value] of [['headersTimeoutMs', 0], ['requestTimeoutMs', -1], ['keepAliveTimeoutMs', 1.5], ['maxConnections', 0], ['maxConnections', 'x']] as const) {
      await assert.rejects(serve({ port: 0, collector: newCollector() as never, [key]: value }), new RegExp(`^\\w+Error: ${key} must be`));
    }
    await assert.rejects(serve({ port: 0, collector: newCollector() as never, headersTimeoutMs: 500, requestTimeoutMs: 100 }), /requestTimeoutMs must be an integer from 500/);
  });
});

test('one warning for a server beyond loopback without a token; none on loopback or with a token', async () => {
  const warnings: Array<Error & { code?: string }> = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(a), true, a);
    for (const a of ['0.0.0.0', '::', '192.168.1.4', '10.0.0.1', '::ffff:10.0.0.1', 'fe80::1']) assert.equal(isLoopbackAddress(a), false, a);
    assert.equal(warnIfUnauthenticated('0.0.0.0', 9464, undefined), true);
    assert.equal(warnIfUnauthenticated('0.0.0.0', 9464, 'tok'), false);
    assert.equal(warnIfUnauthenticated('127.0.0.1', 9464, undefined), false);
    const srv = await serve({ port: 0, collector: newCollector() as never });
    await srv.close();
    await new Promise((r) => setImmediate(r));
    assert.equal(warnings.length, 1, warnings.map((w) => w.message).join('\n'));
    assert.equal(warnings[0]!.code, 'PERFPROBE_UNAUTHENTICATED_SERVER');
    assert.match(warnings[0]!.message, /serving on 0\.0\.0\.0:9464 without a token/);
  } finally {
    process.off('warning', onWarning);
  }
  assert.equal(existsSync('/tmp/evil.json'), false);
});
