// `npm run bench`: runs every bench/*.bench.mjs in turn, prints one table and
// writes bench/results/latest.json. With --readme, also rewrites the table
// between the bench markers in README.md. `npm run bench -- gpu` runs only
// the files whose name contains "gpu".
//
// A bench file exports `default async function (ctx)` returning rows:
//   { section, name, value, unit, peer?: { name, value }, target?: string, pass?: boolean }
// `peer.value` is measured in the same run; the ratio is peer / value for
// time and cost units (how many times perfprobe is cheaper).
import { readdirSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const writeReadme = args.includes('--readme');
const filters = args.filter((a) => !a.startsWith('--'));

const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

const fmt = (v) =>
  v == null || Number.isNaN(v) ? 'n/a' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);

const rows = [];
for (const file of files) {
  process.stderr.write(`bench: ${file} ...\n`);
  const mod = await import(pathToFileURL(join(here, file)).href);
  try {
    for (const row of await mod.default({ machine })) rows.push({ file, ...row });
  } catch (err) {
    rows.push({ file, section: file, name: 'FAILED', value: NaN, unit: '', note: String(err?.stack ?? err) });
    process.stderr.write(`bench: ${file} failed: ${err?.stack ?? err}\n`);
  }
}

const lines = [
  `Machine: ${machine}`,
  '',
  '| section | measurement | perfprobe | peer (same run) | ratio | target | met |',
  '|---|---|---|---|---|---|---|',
];
for (const r of rows) {
  const peer = r.peer ? `${r.peer.name}: ${fmt(r.peer.value)} ${r.unit}` : '';
  const ratio = r.peer && r.value > 0 ? `${fmt(r.peer.value / r.value)}x` : '';
  const met = r.pass == null ? '' : r.pass ? 'yes' : 'NO';
  lines.push(`| ${r.section} | ${r.name} | ${fmt(r.value)} ${r.unit} | ${peer} | ${ratio} | ${r.target ?? ''} | ${met} |`);
}
const table = lines.join('\n');
console.log(table);

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'latest.json'), JSON.stringify({ machine, date: new Date().toISOString(), rows }, null, 2));

if (writeReadme) {
  const readmePath = join(here, '..', 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) throw new Error('README.md has no bench markers');
  writeFileSync(readmePath, `${readme.slice(0, a + start.length)}\n${table}\n${readme.slice(b)}`);
}
