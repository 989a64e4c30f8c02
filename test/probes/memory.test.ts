// readMemory() against the truth: /proc/self/status VmRSS and /proc/meminfo
// read independently of the probe (Linux).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readMemory, probeInfo } from '../../src/probes/index.js';
import { BYTES_PER_MB } from '../../src/schema/layout.js';

const linux = process.platform === 'linux';

function procKib(file: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'));
  assert.ok(m, `${key} missing from ${file}`);
  return Number(m[1]);
}

test('probeInfo says which memory backend readMemory uses', () => {
  const info = probeInfo();
  assert.equal(info.memory.backend, info.addon.loaded ? 'native' : 'node');
  if (process.env.CI === 'true') assert.equal(info.addon.loaded, true, `addon must load in CI: ${info.addon.error}`);
});

test('readMemory agrees with /proc/self/status and /proc/meminfo', { skip: !linux && 'Linux only' }, () => {
  // Read the truth on both sides of the probe and take the nearer one.
  const rssBefore = procKib('/proc/self/status', 'VmRSS') / 1024;
  const r = readMemory();
  const rssAfter = procKib('/proc/self/status', 'VmRSS') / 1024;
  const totalMb = procKib('/proc/meminfo', 'MemTotal') / 1024;
  const availableMb = procKib('/proc/meminfo', 'MemAvailable') / 1024;

  const rssTrue = Math.abs(r.processMemoryMb - rssBefore) < Math.abs(r.processMemoryMb - rssAfter) ? rssBefore : rssAfter;
  const tolerance = Math.max(0.02 * rssTrue, 1);
  assert.ok(Math.abs(r.processMemoryMb - rssTrue) <= tolerance, `RSS ${r.processMemoryMb} MiB vs VmRSS ${rssTrue} MiB`);
  assert.ok(Math.abs(r.totalMb - totalMb) < 1, `total ${r.totalMb} MiB vs MemTotal ${totalMb} MiB`);
  // Available moves with the whole machine: within 5 % of total.
  assert.ok(Math.abs(r.availableMb - availableMb) <= 0.05 * totalMb, `available ${r.availableMb} vs ${availableMb}`);
  assert.ok(Math.abs(r.usedMb - (r.totalMb - r.availableMb)) < 1e-6);
  assert.ok(Math.abs(r.percent - (r.usedMb / r.totalMb) * 100) < 1e-9);
  assert.ok(r.processPeakMb !== null && r.processPeakMb >= r.processMemoryMb);
});

test('readMemory follows this process allocating 64 MiB', { skip: !linux && 'Linux only' }, () => {
  const before = readMemory().processMemoryMb;
  const block = Buffer.alloc(64 * BYTES_PER_MB, 1); // filled, so resident
  const after = readMemory().processMemoryMb;
  assert.ok(after - before > 56, `RSS grew by ${after - before} MiB after touching 64 MiB`);
  assert.equal(block[12345], 1);
});

test('readMemory returns MiB, numbers where known and null where not', () => {
  const r = readMemory();
  for (const k of ['timestamp', 'totalMb', 'usedMb', 'availableMb', 'percent', 'processMemoryMb'] as const) {
    assert.equal(typeof r[k], 'number', k);
    assert.ok(Number.isFinite(r[k]), `${k} is ${r[k]}`);
  }
  for (const k of ['processPeakMb', 'swapTotalMb', 'swapUsedMb', 'heapUsedMb'] as const) {
    assert.ok(r[k] === null || Number.isFinite(r[k]), `${k} is ${r[k]}`);
  }
  assert.ok(Math.abs(r.timestamp - Date.now()) < 5000);
  assert.ok(r.totalMb > 64 && r.totalMb < 64 * 1024 * 1024);
  assert.ok(r.availableMb > 0 && r.availableMb <= r.totalMb);
  assert.ok(r.percent > 0 && r.percent < 100);
});
