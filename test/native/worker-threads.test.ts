// worker_threads: the addon is context-aware (per-environment instance data)
// and each worker's samplers are stopped and joined by the environment's
// cleanup hook when the worker exits. 20 workers each load perfprobe, read
// memory, sample (half never call stop), and exit; twice over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { addonStatus, getAddon } from '../../src/native/binding.js';

const root = join(__dirname, '..', '..');
if (!getAddon() && process.env.CI === 'true') throw new Error(`addon must load in CI: ${addonStatus().error}`);

// Runs inside each worker (CommonJS, TypeScript through tsx's require hook).
const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
require(${JSON.stringify(require.resolve('tsx/cjs'))});
const probes = require(${JSON.stringify(join(root, 'src', 'probes', 'index.ts'))});
const info = probes.probeInfo();
const m = probes.readMemory();
const s = new probes.Sampler({ intervalMs: 1, capacity: 1024, gpu: false }).start();
// Sleep (not spin) until a few records arrived: 20 sampler threads share the CPUs.
const pause = new Int32Array(new SharedArrayBuffer(4));
let count = 0, slots = 0;
for (const end = Date.now() + 10000; count < (s.backend === 'native' ? 5 : 1) && Date.now() < end;) {
  Atomics.wait(pause, 0, 0, 5);
  const batch = s.drain();
  count += batch.count; slots = batch.recordSlots;
}
if (workerData.stop) s.stop();
parentPort.postMessage({ loaded: info.addon.loaded, backend: s.backend, totalMb: m.totalMb, count, slots });
`;

async function runWorkers(n: number) {
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      new Promise<{ msg: any; code: number }>((resolve, reject) => {
        const w = new Worker(workerCode, { eval: true, workerData: { stop: i % 2 === 0 } });
        let msg: any;
        w.on('message', (m) => (msg = m));
        w.on('error', reject);
        w.on('exit', (code) => resolve({ msg, code }));
      }),
    ),
  );
  return results;
}

test('20 workers load perfprobe, read, sample and exit; twice over', async () => {
  const expected = getAddon() !== null;
  for (let round = 0; round < 2; round++) {
    const results = await runWorkers(20);
    for (const [i, { msg, code }] of results.entries()) {
      assert.equal(code, 0, `round ${round} worker ${i} exit code`);
      assert.ok(msg, `round ${round} worker ${i} sent no result`);
      assert.equal(msg.loaded, expected, `worker ${i}: addon loaded`);
      assert.equal(msg.backend, expected ? 'native' : 'timer');
      assert.ok(msg.totalMb > 64);
      assert.ok(msg.count >= (expected ? 5 : 1), `worker ${i}: ${msg.count} records`);
      assert.equal(msg.slots, 11);
    }
  }
});
