#!/usr/bin/env node
// A stand-in nvidia-smi for running `npm run test:gpu` (scripts/test-gpu.mjs)
// against the stand-in NVML: it answers the queries that script makes from the
// JSON file named by $FAKE_NVIDIA_SMI:
//   { "gpus": [{ "<query field>": "<text as nvidia-smi prints it>", ... }],
//     "apps": [{ "pid": "123", "used_memory": "1024" }],
//     "invalid": ["<field this driver's nvidia-smi does not know>"] }
// `-L` lists the GPUs; `--query-gpu=a,b` prints one CSV line per GPU (a field
// missing from a GPU's object prints [N/A]); `--query-compute-apps=...` one per
// app; an unknown field fails the whole query as nvidia-smi does.
import { readFileSync } from 'node:fs';

const answers = JSON.parse(readFileSync(process.env.FAKE_NVIDIA_SMI, 'utf8'));
const args = process.argv.slice(2);
const gpus = answers.gpus ?? [];

if (args.includes('-L')) {
  gpus.forEach((g, i) => process.stdout.write(`GPU ${i}: ${g.name ?? 'Fake GPU'} (UUID: ${g.uuid ?? 'GPU-unknown'})\n`));
  process.exit(0);
}
const query = (flag) => args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1).split(',');
function print(fields, rows) {
  const bad = fields.find((f) => (answers.invalid ?? []).includes(f));
  if (bad) {
    process.stderr.write(`Field "${bad}" is not a valid field to query.\n`);
    process.exit(2);
  }
  for (const r of rows) process.stdout.write(`${fields.map((f) => r[f] ?? '[N/A]').join(', ')}\n`);
  process.exit(0);
}
const gpuFields = query('--query-gpu');
if (gpuFields) print(gpuFields, gpus);
const appFields = query('--query-compute-apps');
if (appFields) print(appFields, answers.apps ?? []);
process.stderr.write(`fake nvidia-smi: no answer for ${args.join(' ')}\n`);
process.exit(2);
