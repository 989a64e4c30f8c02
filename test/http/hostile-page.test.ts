// A hostile web page in a real browser (headless Chromium) against serve()
// without a token, the default (issue 10): what a page on another origin can
// send with forms and no-cors fetches (text/plain, urlencoded and multipart
// bodies, always with an Origin; never Content-Type: application/json, never
// an Authorization header, never a readable answer) must change nothing;
// and a page whose name was re-pointed at 127.0.0.1 (DNS rebinding, here
// Chromium's --host-resolver-rules) must be refused by the Host check.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { serve, type RunningServer } from '../../src/http/index.js';
import { newCollector, tempDir } from '../helpers/export-helpers.js';
import { HANG_GUARD_MS, pollUntil } from '../helpers/hang-guard.js';

declare const window: any;

const CHROMIUM = process.env.PERFPROBE_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') {
  test('chromium is installed (required in CI)', () => assert.fail(`${CHROMIUM} not found: .ci/run must install Debian's chromium`));
}
const skip = haveChromium ? false : `${CHROMIUM} not found (install Debian's chromium)`;

let browser: Browser | undefined;
let perf: RunningServer | undefined;
let attacker: Server | undefined;
let attackerUrl = '';
const tmp = tempDir();
const collector = newCollector({ exportDirectory: tmp.dir });

/** The attack page: every form and no-cors fetch a page can aim at the API, then done = true. */
function attackPage(target: string): string {
  const forms = [
    // The classic text/plain JSON trick: name + '=' + value reads as {"metric_type":null,"x":"="}.
    ['/api/metrics/clear', 'text/plain', '{"metric_type":null,"x":"', '"}'],
    ['/api/metrics/clear', 'application/x-www-form-urlencoded', 'metric_type', 'processing'],
    ['/api/metrics/clear', 'multipart/form-data', 'metric_type', 'processing'],
    ['/api/metrics/export/json', 'text/plain', 'a', 'b'],
    ['/api/metrics/monitoring/start', 'application/x-www-form-urlencoded', 'a', 'b'],
  ];
  const formHtml = forms
    .map(
      ([path, enctype, name, value], i) =>
        `<iframe name="f${i}"></iframe><form id="form${i}" method="POST" target="f${i}" enctype="${enctype}" action="${target}${path}"><input name='${name}' value='${value}'></form>`,
    )
    .join('\n');
  return `<!doctype html><html><body>${formHtml}
<script>
window.results = [];
(async () => {
  const post = (path, init) => fetch('${target}' + path, Object.assign({ method: 'POST', mode: 'no-cors' }, init)).then(() => 'sent', (e) => 'failed: ' + e.message);
  for (let i = 0; i < ${forms.length}; i++) document.getElementById('form' + i).submit();
  window.results.push(await post('/api/metrics/clear', { body: '{"metric_type":null}' }));
  window.results.push(await post('/api/metrics/clear', { body: new Blob(['{"metric_type":null}']) }));
  window.results.push(await post('/api/metrics/clear'));
  window.results.push(await post('/api/metrics/clear', { headers: { 'Content-Type': 'application/json' }, body: '{}' }));
  const exports = [];
  for (let i = 0; i < 20; i++) exports.push(post('/api/metrics/export/json'));
  window.results.push(...(await Promise.all(exports)));
  // Reading: a CORS fetch gets no answer it may read (no Access-Control-Allow-Origin).
  window.read = await fetch('${target}/api/metrics/processing/stats').then((r) => r.text(), (e) => 'blocked: ' + e.message);
  window.done = true; // the test then waits for the form submissions' answers (page.on('response'))
})();
</script></body></html>`;
}

before(async () => {
  if (skip) return;
  for (let i = 0; i < 50; i++) collector.recordProcessingTime('op', i + 1);
  perf = await serve({ port: 0, collector: collector as never, dashboard: true });
  const page = attackPage(perf.url);
  attacker = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  await new Promise<void>((r) => attacker!.listen(0, '127.0.0.1', r));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // DNS rebinding without DNS: these names resolve to loopback.
      '--host-resolver-rules=MAP rebind.test 127.0.0.1, MAP attacker.test 127.0.0.1'],
  });
});

after(async () => {
  await browser?.close();
  await perf?.close();
  if (attacker) await new Promise((r) => attacker!.close(r));
  tmp.cleanup();
});

test('forms and no-cors fetches from another origin clear nothing, export nothing and read nothing', { skip }, async () => {
  for (const origin of [attackerUrl, attackerUrl.replace('127.0.0.1', 'attacker.test')]) {
    const page = await browser!.newPage();
    const seen: Array<[string, number]> = [];
    let formAnswers = 0; // answers to the form submissions (navigations of the iframes), not to the fetches
    page.on('response', (r) => {
      if (!r.url().startsWith(perf!.url)) return;
      seen.push([r.url().slice(perf!.url.length), r.status()]);
      if (r.request().isNavigationRequest()) formAnswers++;
    });
    await page.goto(origin);
    await page.waitForFunction(() => window.done === true, undefined, { timeout: HANG_GUARD_MS });
    // The five form submissions land in their iframes whenever the machine gets to them: wait for their answers.
    await pollUntil('the answers to the five form submissions', () => formAnswers >= 5);
    const read = await page.evaluate(() => window.read as string);
    assert.match(read, /^blocked: /, `the page read ${read.slice(0, 80)}`);
    await page.close();
    assert.equal(collector.getProcessingTimeStats().count, 50, `nothing cleared (from ${origin})`);
    assert.deepEqual(readdirSync(tmp.dir), [], `nothing exported (from ${origin})`);
    assert.equal(collector.monitoring, false, 'monitoring not started');
    // Each form submission reached the server and was refused.
    const forms = seen.filter(([path]) => path.startsWith('/api/metrics/'));
    assert.ok(forms.length >= 5, JSON.stringify(seen));
    for (const [path, status] of forms) assert.ok(status === 403 || status === 415, `${path}: ${status}`);
  }
});

test('a page whose name was re-pointed at 127.0.0.1 (DNS rebinding) gets 403 for the dashboard and the API', { skip }, async () => {
  const page = await browser!.newPage();
  const base = perf!.url.replace('127.0.0.1', 'rebind.test');
  for (const path of ['/', '/api/metrics/processing/stats', '/metrics', '/api/metrics/stream']) {
    const r = await page.goto(base + path);
    assert.equal(r?.status(), 403, path);
    assert.match(await r!.text(), /is not this server's address/);
  }
  // The same server by its own address works, so the 403 is the Host check.
  const ok = await page.goto(perf!.url + '/api/metrics/processing/stats');
  assert.equal(ok?.status(), 200);
  await page.close();
});
