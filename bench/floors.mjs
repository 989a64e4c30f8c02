// The C floors the benchmarks measure perfprobe against in the same run
// (../shared/ANCHORS.md "Floors"): tiny programs in bench/native/, compiled
// here with the system C compiler (cc -O2, or $CC) into build/bench/ and
// rebuilt when their source is newer. Linux only (they read /proc).
//
//   buildFloor('pread_floor')     -> absolute path of the executable
//   buildFloorAddon('pread_call') -> absolute path of a Node-API addon (a floor inside Node)
//   runFloor('pread_floor', args) -> its one line of JSON output, parsed
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(here, '..', 'build', 'bench');

export function buildFloor(name) {
  return compileFloor(name, name, []);
}

/**
 * A floor that must run inside a Node process (bench/native/<name>.c, a
 * Node-API addon): compiled with cc -O2 -shared against node-api-headers
 * (the Node-API symbols resolve against the node binary at load).
 * Returns the path of the .node file, for require().
 */
export function buildFloorAddon(name) {
  const headers = join(dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include');
  return compileFloor(name, `${name}.node`, ['-shared', '-fPIC', '-I', headers]);
}

function compileFloor(name, file, flags) {
  const source = join(here, 'native', `${name}.c`);
  const out = join(outDir, file);
  mkdirSync(outDir, { recursive: true });
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  const cc = process.env.CC || 'cc';
  try {
    execFileSync(cc, ['-O2', '-Wall', ...flags, '-o', tmp, source], { stdio: 'pipe' });
  } catch (err) {
    const detail = err.code === 'ENOENT' ? `${cc} not found (install a C compiler)` : String(err.stderr || err.message);
    throw new Error(`building the C floor ${name} failed: ${detail}`);
  }
  renameSync(tmp, out);
  return out;
}

/** Runs a floor program; resolves with its JSON line. */
export function runFloor(name, args = []) {
  const exe = buildFloor(name);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(exe, args.map(String), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolvePromise(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`${name} exited ${code}: ${out}`)),
    );
  });
}
