// The dashboard end to end: serve({ dashboard: true }) with a real collector,
// driven by headless Chromium (Debian's, through playwright-core).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PerformanceMetricsCollector, configureGpu } from '../../src/index.js';
import { serve, type RunningServer } from '../../src/http/index.js';
import { fakeNvmlLibraries } from '../helpers/fake-nvml-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

// Page-side globals used inside page.evaluate() callbacks (the test tsconfig has no DOM lib).
declare const window: any;
declare const document: any;

const CHROMIUM = process.env.PERFPROBE_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') {
  test('chromium is installed (required in CI)', () => assert.fail(`${CHROMIUM} not found: .ci/run must install Debian's chromium`));
}
const skip = haveChromium ? false : `${CHROMIUM} not found (install Debian's chromium)`;

const OUT = join(__dirname, '..', '..', 'test-output');
let browser: Browser | undefined;
let running: RunningServer | undefined;
let collector: PerformanceMetricsCollector;
let opTimer: NodeJS.Timeout | undefined;

let fakeGpus = false;
let fakeDir: string | undefined;

before(async () => {
  if (skip) return;
  // Two GPUs from the stand-in NVML library, so the GPU charts have data on machines without one.
  try {
    const lib = (await fakeNvmlLibraries()).full;
    fakeDir = mkdtempSync(join(tmpdir(), 'perfprobe-dash-'));
    const script = join(fakeDir, 'nvml.txt');
    writeFileSync(script, ['devices=2', 'gpu0.name=Fake H100', 'gpu0.util=75', 'gpu0.power_mw=250000', 'gpu0.temp=55',
      'gpu0.mem_used=4294967296', 'gpu1.util=20', 'gpu1.power_mw=90000', 'gpu1.temp=41',
      // The GPU depth: P-state, throttle reasons, this process on both lists with its SM %, ECC, MIG, one Xid event.
      'gpu0.pstate=2', 'gpu0.clocks_reasons=68', 'gpu0.mem_temp=71', 'gpu0.procs=self:1073741824', 'gpu0.gprocs=self:1073741824',
      'gpu0.putil=self:70:10:0:0@100', 'gpu0.ecc_cv=3', 'gpu0.events=xid:79@300',
      'gpu1.pstate=8', 'gpu1.clocks_reasons=1', 'gpu1.mig=1', 'gpu1.mig_devices=1:0:10737418240:1073741824'].join('\n') + '\n');
    process.env.PERFPROBE_NVML_LIBRARY = lib;
    process.env.PERFPROBE_FAKE_NVML_SCRIPT = script;
    // The stand-in hands its one utilization sample out once (NVML gives samples newer than the last read):
    // keep the first process table, so the SM % stays what was scripted however long the page takes.
    configureGpu({ detailsRefreshMs: 3_600_000 });
    fakeGpus = true;
  } catch (err) {
    if (process.env.CI === 'true') throw err;
  }
  collector = new PerformanceMetricsCollector({ memorySampleIntervalMs: 200 });
  collector.startMonitoring();
  // Operations with known, different latencies so the table and the latency chart have content.
  let i = 0;
  const record = () => {
    i++;
    collector.recordProcessingTime('decode', 10 + (i % 7), { success: i % 20 !== 0 });
    collector.recordProcessingTime('resize', 3 + (i % 3));
    if (i % 3 === 0) collector.recordProcessingTime('upload', 40 + (i % 11));
  };
  for (let k = 0; k < 60; k++) record();
  opTimer = setInterval(record, 50);
  running = await serve({ port: 0, host: '127.0.0.1', collector, dashboard: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (opTimer) clearInterval(opTimer);
  await browser?.close();
  await running?.close();
  collector?.stopMonitoring();
  if (fakeDir) rmSync(fakeDir, { recursive: true, force: true });
});

async function points(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => window.perfprobeDashboard.points() as Record<string, number>);
}
/** Polls `fn` until it holds, however long a loaded machine takes (HANG_GUARD_MS only ends a hang). */
async function waitFor(fn: () => Promise<boolean>): Promise<boolean> {
  const end = Date.now() + HANG_GUARD_MS;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return fn();
}

test('the dashboard loads without console errors, charts gain points, it survives a server restart', { skip }, async () => {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 1100 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));

  const res = await page.goto(running!.url + '/', { waitUntil: 'load' });
  assert.equal(res?.status(), 200);
  assert.equal(await page.title(), 'perfprobe dashboard');
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', undefined, { timeout: HANG_GUARD_MS });

  // Charts gain points (one per tick).
  const first = await points(page);
  assert.ok((first['chart-system'] ?? 0) > 0, `snapshot gave points: ${JSON.stringify(first)}`);
  const grew = await waitFor(async () => {
    const p = await points(page);
    return p['chart-system']! > first['chart-system']! && p['chart-process']! > first['chart-process']! && (p['chart-latency'] ?? 0) > (first['chart-latency'] ?? 0);
  });
  assert.ok(grew, `charts gained points: before ${JSON.stringify(first)}, after ${JSON.stringify(await points(page))}`);

  // The operations table shows what was recorded, busiest first.
  const rows = await page.$$eval('#operations tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  assert.deepEqual(rows.map((r) => r[0]).slice(0, 3), ['decode', 'resize', 'upload']);
  const decode = rows[0]!;
  assert.ok(Number(decode[1]) >= 60, `decode count ${decode[1]}`);
  assert.ok(Number(decode[4]) >= 10 && Number(decode[4]) <= 16, `decode p50 ${decode[4]}`);
  assert.match(decode[2]!, /^9\d\.\d %$/, 'decode success rate about 95 %');
  // GPU charts: present with readings, or the note saying there are none.
  const gpuCount = await page.evaluate(() => Object.keys(window.perfprobeDashboard.points()).filter((k) => k.startsWith('chart-gpu')).length);
  const noGpuVisible = await page.isVisible('#no-gpu');
  assert.ok(gpuCount === 4 || noGpuVisible, 'either 4 GPU charts or the no-GPU note');
  if (fakeGpus && collector.gpuAvailable) {
    assert.equal(gpuCount, 4, 'utilization, memory, power and temperature charts');
    const p = await points(page);
    assert.ok(p['chart-gpu-util']! > 0 && p['chart-gpu-power']! > 0, JSON.stringify(p));
    const legend = await page.$$eval('#chart-gpu-util .u-legend .u-label', (els) => els.map((e) => e.textContent));
    assert.deepEqual(legend.slice(1), ['GPU 0', 'GPU 1']);
  }
  assert.equal(await page.isVisible('#gpu-charts'), !noGpuVisible, 'empty GPU charts are hidden');

  if (fakeGpus && collector.gpuAvailable) {
    // "GPUs now": one card per GPU with its P-state, throttle reasons, ECC and MIG, and nvitop's process table.
    await page.waitForFunction(() => document.querySelectorAll('#gpu-events tbody tr').length > 0, undefined, { timeout: HANG_GUARD_MS });
    const cards = await page.$$eval('#gpu-devices .device', (els) =>
      els.map((c) => ({
        title: c.querySelector('h3').textContent,
        badges: [...c.querySelectorAll('.badge')].map((b) => b.textContent),
        rows: [...c.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      })),
    );
    assert.equal(cards.length, 2);
    assert.equal(cards[0]!.title, 'GPU 0  Fake H100');
    assert.deepEqual(cards[0]!.badges, ['P2', 'sw_power_cap', 'hw_thermal_slowdown', 'memory 71 \u00b0C', 'PCIe Gen5 x16', 'ECC 3 corrected / 0 uncorrected', 'MIG off']);
    assert.deepEqual(cards[0]!.rows, [[String(process.pid), 'node', 'C+G', '1024 MB', '70 %']]);
    assert.deepEqual(cards[1]!.badges.filter((b: string) => /^P\d|gpu_idle|MIG/.test(b)), ['P8', 'gpu_idle', 'MIG on, 1 devices']);
    assert.deepEqual(cards[1]!.rows, [['no processes']]);
    const events = await page.$$eval('#gpu-events tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    assert.equal(events[0]![1], 'GPU 0');
    assert.match(events[0]![2]!, /^Xid 79 \(GPU fell off the bus/);
  }

  // Nothing from outside this server (no CDN).
  for (const u of requests) assert.ok(u.startsWith(running!.url), `request to ${u}`);
  assert.deepEqual(errors, [], 'no console errors');

  mkdirSync(OUT, { recursive: true });
  const shot = join(OUT, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 10_000);

  // Restart the server on the same port: EventSource reconnects, a new snapshot arrives and the charts resume.
  const port = running!.port;
  const connects = await page.evaluate(() => window.perfprobeDashboard.state.connects as number);
  await running!.close();
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'reconnecting', undefined, { timeout: HANG_GUARD_MS });
  running = await serve({ port, host: '127.0.0.1', collector, dashboard: true });
  await page.waitForFunction((n) => window.perfprobeDashboard.state.connects > n, connects, { timeout: HANG_GUARD_MS });
  const afterRestart = await points(page);
  const resumed = await waitFor(async () => (await points(page))['chart-system']! > afterRestart['chart-system']!);
  assert.ok(resumed, 'charts gain points again after the restart');
  assert.equal(await page.textContent('#status'), 'live');
  await page.close();
});

test('with a token: ?token= opens the page, the cookie (per port, an HMAC) feeds the stream, and the token leaves the address bar', { skip }, async () => {
  const secured = await serve({ port: 0, host: '127.0.0.1', collector, dashboard: true, token: 'dash-secret' });
  const context = await browser!.newContext();
  const page = await context.newPage();
  try {
    const res = await page.goto(`${secured.url}/?token=dash-secret&view=1#top`, { waitUntil: 'load' });
    assert.equal(res?.status(), 200);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', undefined, { timeout: HANG_GUARD_MS });
    assert.equal(page.url(), `${secured.url}/?view=1#top`, 'the token is gone from the address bar, the rest kept');
    const cookies = await context.cookies(secured.url);
    assert.deepEqual(cookies.map((c) => c.name), [`perfprobe_token_${secured.port}`]);
    assert.notEqual(cookies[0]!.value, 'dash-secret');
    assert.doesNotMatch(cookies[0]!.value, /dash-secret/);
    assert.equal(cookies[0]!.httpOnly, true);
    assert.equal(cookies[0]!.sameSite, 'Strict');
    // The stream runs on the cookie alone, and a reload without ?token= still opens the page.
    const before = (await points(page))['chart-system'] ?? 0;
    assert.ok(await waitFor(async () => ((await points(page))['chart-system'] ?? 0) > before), 'charts gain points');
    const again = await page.reload({ waitUntil: 'load' });
    assert.equal(again?.status(), 200);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', undefined, { timeout: HANG_GUARD_MS });
  } finally {
    await context.close();
    await secured.close();
  }
});
