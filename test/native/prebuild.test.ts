// The release prebuilds (`npm run prebuild:all`, scripts/prebuild-all.mjs):
// what each binary is made of (machine, stripped, exports, the glibc symbol
// versions it needs, the DLLs it imports), then the linux-x64 one packed
// with npm and installed where building is impossible: it loads.
// CI builds the prebuilds before `npm test` (.ci/run); elsewhere the test is
// skipped until `npm run prebuild:all` has run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consumer, have, npmInstall, pack, packageCopy, root, run, toolsBin } from '../helpers/pack-helpers.js';

/** The floor: Node 20's own Linux binaries need glibc 2.28 (RHEL 8, Ubuntu 20.04 has 2.31). */
const GLIBC_FLOOR = [2, 28];
const RELEASE: Record<string, { machine: RegExp; file: string }> = {
  'linux-x64': { machine: /X86-64/, file: 'perfprobe.napi.glibc.node' },
  'linux-arm64': { machine: /AArch64/, file: 'perfprobe.napi.glibc.node' },
  'win32-x64': { machine: /x86-64/, file: 'perfprobe.napi.node' },
};

async function freshPrebuilds(t: { skip(msg: string): void }): Promise<Record<string, string> | null> {
  const { freshPrebuild } = (await import('../../scripts/prebuild-all.mjs')) as { freshPrebuild(name: string): string | null };
  const missing = Object.keys(RELEASE).filter((name) => !freshPrebuild(name));
  if (missing.length) {
    const why = `no prebuild newer than native/ for ${missing.join(', ')}: run \`npm run prebuild:all\``;
    if (process.env.CI === 'true') assert.fail(why);
    t.skip(why);
    return null;
  }
  return Object.fromEntries(Object.entries(RELEASE).map(([name, r]) => [name, join(root, 'prebuilds', name, r.file)]));
}

const cmpVersion = (a: number[], b: number[]) => (a[0]! - b[0]!) || ((a[1] ?? 0) - (b[1] ?? 0)) || ((a[2] ?? 0) - (b[2] ?? 0));

test('linux prebuilds: right machine, stripped, only the Node-API entry points exported, no symbol newer than GLIBC_2.28', async (t) => {
  const files = await freshPrebuilds(t);
  if (!files) return;
  if (!have('readelf')) assert.fail('readelf (binutils) is needed to read the prebuilds');
  for (const name of ['linux-x64', 'linux-arm64']) {
    const file = files[name]!;
    const header = run('readelf', ['-h', file], { what: 'readelf -h' });
    assert.match(header, RELEASE[name]!.machine, `${name}: machine`);
    const sections = run('readelf', ['-S', '-W', file], { what: 'readelf -S' });
    assert.match(sections, /\.dynsym/);
    assert.doesNotMatch(sections, /\.symtab|\.debug_/, `${name} is stripped`);
    const dynsym = run('readelf', ['--dyn-syms', '-W', file], { what: 'readelf --dyn-syms' });
    // Every versioned reference, e.g. "dlopen@GLIBC_2.17 (2)".
    const versions = [...dynsym.matchAll(/@(GLIBC|GLIBCXX|CXXABI)_([\d.]+)/g)].map((m) => ({ lib: m[1]!, v: m[2]!.split('.').map(Number) }));
    assert.ok(versions.some((x) => x.lib === 'GLIBC'), `${name}: versioned glibc references found`);
    assert.deepEqual(versions.filter((x) => x.lib !== 'GLIBC').map((x) => `${x.lib}_${x.v.join('.')}`), [], `${name}: no libstdc++ versions (libc++ is linked in)`);
    const newest = versions.map((x) => x.v).sort(cmpVersion).at(-1)!;
    assert.ok(cmpVersion(newest, GLIBC_FLOOR) <= 0, `${name} needs GLIBC_${newest.join('.')}, newer than the 2.28 floor`);
    t.diagnostic(`${name}: newest glibc symbol version GLIBC_${newest.join('.')}`);
    // Defined global symbols: the module entry points only.
    const defined = dynsym.split('\n').map((l) => l.trim().split(/\s+/)).filter((c) => c.length >= 8 && c[4] === 'GLOBAL' && c[6] !== 'UND').map((c) => c[7]!.replace(/@.*/, ''));
    assert.deepEqual(defined.sort(), ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
    const dynamic = run('readelf', ['-d', file], { what: 'readelf -d' });
    const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
    for (const lib of needed) assert.match(lib, /^(libc|libm|libdl|libpthread|ld-linux-(x86-64|aarch64))\.so\.\d$/, `${name} needs only glibc's own libraries, not ${lib}`);
    assert.match(dynamic, /NODELETE/, `${name}: never unloaded (its static libc++ has thread-exit destructors)`);
  }
});

/** The parts of a PE file this test checks, read from its headers. */
function readPe(file: string) {
  const b = readFileSync(file);
  assert.equal(b.toString('latin1', 0, 2), 'MZ');
  const pe = b.readUInt32LE(0x3c);
  assert.equal(b.toString('latin1', pe, pe + 4), 'PE\0\0');
  const machine = b.readUInt16LE(pe + 4);
  const sectionCount = b.readUInt16LE(pe + 6);
  const symbolTable = b.readUInt32LE(pe + 12);
  const optionalSize = b.readUInt16LE(pe + 20);
  const characteristics = b.readUInt16LE(pe + 22);
  const opt = pe + 24;
  assert.equal(b.readUInt16LE(opt), 0x20b, 'PE32+');
  const sections = Array.from({ length: sectionCount }, (_, i) => {
    const s = opt + optionalSize + i * 40;
    return { name: b.toString('latin1', s, s + 8).replace(/\0+$/, ''), va: b.readUInt32LE(s + 12), size: b.readUInt32LE(s + 16), raw: b.readUInt32LE(s + 20) };
  });
  const rva = (r: number) => {
    const s = sections.find((x) => r >= x.va && r < x.va + Math.max(x.size, 1));
    assert.ok(s, `rva ${r} in a section`);
    return r - s.va + s.raw;
  };
  const cstr = (off: number) => b.toString('latin1', off, b.indexOf(0, off));
  const dir = (i: number) => ({ rva: b.readUInt32LE(opt + 112 + i * 8), size: b.readUInt32LE(opt + 112 + i * 8 + 4) });
  const imports: string[] = [];
  for (let d = rva(dir(1).rva); b.readUInt32LE(d + 12) !== 0; d += 20) imports.push(cstr(rva(b.readUInt32LE(d + 12))).toLowerCase());
  const exp = rva(dir(0).rva);
  const names = Array.from({ length: b.readUInt32LE(exp + 24) }, (_, i) => cstr(rva(b.readUInt32LE(rva(b.readUInt32LE(exp + 32)) + i * 4))));
  return { machine, symbolTable, isDll: (characteristics & 0x2000) !== 0, sections: sections.map((s) => s.name), imports, exports: names };
}

test('win32-x64 prebuild: an x86-64 DLL, stripped, importing Node-API from node.exe and only system DLLs', async (t) => {
  const files = await freshPrebuilds(t);
  if (!files) return;
  const pe = readPe(files['win32-x64']!);
  assert.equal(pe.machine, 0x8664, 'AMD64');
  assert.equal(pe.isDll, true);
  assert.equal(pe.symbolTable, 0, 'no COFF symbol table (stripped)');
  assert.deepEqual(pe.sections.filter((s) => s.startsWith('.debug') || s === '/4'), [], 'no debug sections');
  assert.ok(pe.imports.includes('node.exe'), `imports ${pe.imports.join(', ')}`);
  // The C++ runtime is linked in: no libstdc++/libc++/winpthread DLL to ship alongside.
  for (const dll of pe.imports) assert.match(dll, /^(node\.exe|kernel32\.dll|psapi\.dll|advapi32\.dll|ntdll\.dll|api-ms-win-crt-[a-z-]+-l1-1-0\.dll|msvcrt\.dll|ucrtbase\.dll|user32\.dll|bcrypt\.dll)$/, `imports ${dll}`);
  // The module entry points, and zig's statically linked libunwind, which
  // marks its API dllexport (harmless on Windows: a DLL's exports never
  // interpose on other modules' symbols, unlike ELF).
  assert.ok(pe.exports.includes('napi_register_module_v1') && pe.exports.includes('node_api_module_get_api_version_v1'), `exports ${pe.exports.join(', ')}`);
  const others = pe.exports.filter((e) => !/^(napi_register_module_v1|node_api_module_get_api_version_v1|_Unwind_\w+|_GCC_specific_handler|unw_\w+)$/.test(e));
  assert.deepEqual(others, [], 'nothing of perfprobe\'s own is exported');
});

test('npm pack with the prebuilds, install without build tools: the linux-x64 prebuild loads', { timeout: 600000, skip: process.platform !== 'linux' || process.arch !== 'x64' ? 'the linux-x64 prebuild loads only there' : false }, async (t) => {
  if (!(await freshPrebuilds(t))) return;
  const work = mkdtempSync(join(tmpdir(), 'perfprobe-prebuild-'));
  try {
    const pkg = packageCopy(work, { prebuilds: true });
    const { tarball, paths } = pack(pkg, work);
    for (const name of Object.keys(RELEASE)) assert.ok(paths.includes(`prebuilds/${name}/${RELEASE[name]!.file}`), `${name} prebuild in the tarball`);
    assert.ok(!paths.some((p) => p.startsWith('build/')), 'no build/ in the tarball');

    // A consumer whose PATH has node, npm, sh and coreutils only: no compiler, make or python.
    const bin = toolsBin(work, 'bin');
    const env = { ...process.env, PATH: bin, npm_config_nodedir: '', CXX: '', CC: '' };
    for (const mode of ['with install scripts', 'with --ignore-scripts'] as const) {
      const dir = consumer(work, mode.includes('ignore') ? 'consumer-noscripts' : 'consumer');
      const installOut = npmInstall(bin, dir, tarball, env, mode.includes('ignore') ? ['--ignore-scripts'] : []);
      const installed = join(dir, 'node_modules', 'perfprobe');
      assert.ok(!existsSync(join(installed, 'build')), `${mode}: nothing was compiled\n${installOut}`);
      if (!mode.includes('ignore')) assert.match(installOut, /perfprobe: using the prebuilt addon .*prebuilds\/linux-x64\/perfprobe\.napi\.glibc\.node/, 'the install script found the prebuild');

      const check = `const p = require('perfprobe'); const i = p.probeInfo(); const m = p.readMemory();
        import('perfprobe').then((e) => console.log(JSON.stringify({ i, total: m.totalMb, same: e.readMemory === p.readMemory })));`;
      const out = run(join(bin, 'node'), ['-e', check], { cwd: dir, env: { ...env, PREBUILDS_ONLY: '1' }, what: `load (${mode})` });
      const res = JSON.parse(out.trim().split('\n').find((l) => l.startsWith('{'))!);
      assert.equal(res.i.addon.loaded, true, `${mode}: ${res.i.addon.error}`);
      assert.equal(res.i.addon.path, join(installed, 'prebuilds', 'linux-x64', 'perfprobe.napi.glibc.node'));
      assert.equal(res.i.memory.backend, 'native');
      assert.ok(res.total > 64);
      assert.equal(res.same, true);
      assert.doesNotMatch(out, /PERFPROBE_ADDON_UNAVAILABLE/);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
