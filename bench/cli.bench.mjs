// `perfprobe run` overhead on a CPU-bound command: the same fixed loop
// (calibrated to ~2 s) run alone and under `perfprobe run` at the default
// 100 ms interval, interleaved, median of the repetitions, in the same run.
//
// Rows:
// - the command's own wall time (spawn to exit) under perfprobe, as its
//   summary reports durationMs, vs alone (spawn to exit, measured here the
//   same way): what sampling costs the command. Target <= 2 %.
// - the whole `perfprobe run` process (its own Node start-up included) vs the
//   command alone: what a CI step pays in total.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = join(root, 'dist', 'cli', 'main.js');
const REPS = Number(process.env.PERFPROBE_BENCH_REPS ?? 5);

const loop = (n) => `let x = 0; for (let i = 0; i < ${n}; i++) x = (x * 31 + i) | 0; if (x === 42) console.log(x);`;

function timed(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export default async function () {
  if (!existsSync(main)) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  // Calibrate the loop to about 2 s of CPU on this machine.
  const probeN = 2e8;
  const probeMs = await timed(process.execPath, ['-e', loop(probeN)]);
  const n = Math.round((probeN * 2000) / Math.max(probeMs - 40, 50));
  const args = ['-e', loop(n)];
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-bench-cli-'));
  const alone = [];
  const inside = [];
  const whole = [];
  try {
    for (let r = 0; r < REPS; r++) {
      alone.push(await timed(process.execPath, args));
      const json = join(dir, `run-${r}.json`);
      whole.push(await timed(process.execPath, [main, 'run', '--json', json, '--', process.execPath, ...args]));
      inside.push(JSON.parse(readFileSync(json, 'utf8')).summary.durationMs);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const a = median(alone);
  const inMs = median(inside);
  const wholeMs = median(whole);
  const overhead = ((inMs - a) / a) * 100;
  const wholeOverhead = ((wholeMs - a) / a) * 100;
  return [
    {
      section: 'cli',
      name: `perfprobe run, CPU-bound ~2 s command, default 100 ms interval: command wall time (median of ${REPS}, interleaved); overhead ${overhead.toFixed(2)} %`,
      value: inMs,
      unit: 'ms',
      peer: { name: 'command alone', value: a },
      target: '<= 2 % over alone',
      pass: overhead <= 2,
    },
    {
      section: 'cli',
      name: `whole perfprobe run process incl. its Node start-up (median of ${REPS}); overhead ${wholeOverhead.toFixed(2)} %`,
      value: wholeMs,
      unit: 'ms',
      peer: { name: 'command alone', value: a },
    },
  ];
}
