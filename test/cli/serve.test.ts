// perfprobe serve, end to end: the dashboard, the stream and the API; a port in use; SIGTERM.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { collect, listeningUrl, runCli, startCli } from '../helpers/cli-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

describe('perfprobe serve', () => {
  test('serves the dashboard, the stream and the API; a port in use is one line and exit 1; SIGTERM stops it', async () => {
    const started = Date.now();
    const server = startCli(['serve', '--port', '0', '--interval', '200ms', '--token', 'sekret']);
    const url = await listeningUrl(server);
    const done = collect(server);
    try {
      const auth = { authorization: 'Bearer sekret' };
      assert.equal((await fetch(url + '/')).status, 401, 'the token guards the dashboard too');
      const page = await fetch(url + '/', { headers: auth });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>perfprobe dashboard<\/title>/);
      const lib = await fetch(url + '/assets/uplot/uPlot.iife.min.js', { headers: auth });
      assert.equal(lib.status, 200);
      assert.match(lib.headers.get('content-type')!, /javascript/);
      assert.ok((await lib.arrayBuffer()).byteLength > 10_000);
      assert.equal((await fetch(url + '/assets/../package.json', { headers: auth })).status, 404);

      // The stream: a snapshot with memory samples taken by the monitoring serve started.
      const ac = new AbortController();
      const stream = await fetch(url + '/api/metrics/stream', { headers: auth, signal: ac.signal });
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type')!, /^text\/event-stream/);
      const reader = stream.body!.getReader();
      let text = '';
      // Until the first batch of samples (the server sends one each interval), however long a loaded
      // machine takes; the guard only ends a stream that hangs.
      const guard = setTimeout(() => ac.abort(), HANG_GUARD_MS);
      try {
        while (!/event: samples\ndata: .*\n\n/.test(text)) {
          const { value, done: end } = await reader.read();
          if (end) break;
          text += Buffer.from(value!).toString();
        }
      } finally {
        clearTimeout(guard);
        ac.abort();
      }
      assert.match(text, /^retry: \d+/m);
      const snap = JSON.parse(/event: snapshot\ndata: (.*)\n/.exec(text)![1]!);
      assert.ok(Array.isArray(snap.memory) && Array.isArray(snap.gpus) && Array.isArray(snap.operations));
      const batch = JSON.parse(/event: samples\ndata: (.*)\n/.exec(text)![1]!);
      assert.ok(batch.memory.length >= 1, 'a batch carries new memory samples');
      const [ts, usedMb, totalMb] = batch.memory[0];
      assert.ok(ts >= started && ts <= Date.now(), `a sample taken by this server (at ${ts}, started ${started})`);
      assert.ok(usedMb > 0 && totalMb >= usedMb, `${usedMb} of ${totalMb} MB`);

      const metrics = await fetch(url + '/metrics', { headers: auth });
      assert.equal(metrics.status, 200);

      const port = new URL(url).port;
      const busy = await runCli(['serve', '--port', port]);
      assert.equal(busy.code, 1);
      assert.equal(busy.stderr.trim().split('\n').length, 1, busy.stderr);
      assert.match(busy.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      server.kill('SIGTERM');
    }
    const end = await done;
    assert.equal(end.code, 0, end.stderr);
  });

  test('a serve that exits without listening fails the wait for its listening line at once, with its stderr', async () => {
    const server = startCli(['serve', '--port', 'abc']);
    await assert.rejects(listeningUrl(server), /the listening line of perfprobe serve: the child (exited \(2\)|closed stderr) without it: perfprobe serve: --port must be/);
  });

  test('bad --port and --interval are refused', async () => {
    for (const args of [['--port', '99999'], ['--port', 'abc'], ['--interval', '0']]) {
      const r = await runCli(['serve', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(args[0]!));
    }
  });
});

describe('perfprobe serve --allow-host', () => {
  test('Hosts other than its own are refused unless allowed; a bad name is a usage error', async () => {
    const server = startCli(['serve', '--port', '0', '--interval', '1s', '--allow-host', 'metrics.lan', '--allow-host', 'box.lan:8443']);
    const url = await listeningUrl(server);
    const done = collect(server);
    try {
      const { port } = new URL(url);
      const get = (host: string) => rawGet(Number(port), host);
      assert.equal(await get(`127.0.0.1:${port}`), 200);
      assert.equal(await get(`metrics.lan:${port}`), 200);
      assert.equal(await get('box.lan:8443'), 200);
      assert.equal(await get(`box.lan:${port}`), 403);
      assert.equal(await get(`evil.example:${port}`), 403);
    } finally {
      server.kill('SIGTERM');
    }
    assert.equal((await done).code, 0);
    const bad = await runCli(['serve', '--allow-host', 'two words']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^perfprobe serve: --allow-host must be a host name, an IP address, name:port or '\*', got "two words"$/m);
  });
});

/** GET /api/metrics/memory/stats with the given Host header over a raw socket; the status code. */
function rawGet(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    s.on('connect', () => s.write(`GET /api/metrics/memory/stats HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    s.on('data', (d) => (data += d));
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    s.on('error', reject);
  });
}
