#!/usr/bin/env node
// The package's install script. It never fails the install because of the
// addon (perfprobe works without it, on its Node.js fallbacks):
//
//  1. a prebuilt binary in prebuilds/ that loads here (checked in a child
//     process, so a binary that crashes cannot take the install down) -> done;
//  2. else a source build with node-gyp (npm's own, or ours in development);
//     the result must load too;
//  3. else exit 0 all the same, after writing build/install-failure.json
//     (the reason, the fix, the build log's tail), which src/native/binding.ts
//     quotes in its one PERFPROBE_ADDON_UNAVAILABLE warning at first import.
//
// In perfprobe's own git checkout (a .git entry at the root, which the npm
// package never has) a failed build does fail `npm ci`, so a contributor's
// broken toolchain is seen at once rather than as fallbacks in the tests.
//
// Environment: PERFPROBE_ADDON=0 skips everything (the fallbacks were asked
// for); npm_config_build_from_source=true (`npm install --build-from-source`)
// skips step 1; PERFPROBE_BUILD_TIMEOUT_MS bounds the build (default 10 min).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, rmSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const failureFile = join(root, 'build', 'install-failure.json');
const target = `${process.platform}-${process.arch}`;

/** Loads the binary node-gyp-build would pick, in a child; { ok, path?, error? }. */
function tryLoad(prebuildsOnly) {
  const code = `
    const file = require('node-gyp-build').resolve(${JSON.stringify(root)});
    const m = require(file);
    if (typeof m.readMemory !== 'function' || typeof m.Sampler !== 'function') throw new Error(file + ' is not a perfprobe addon');
    console.log(JSON.stringify({ path: file }));`;
  const env = { ...process.env };
  if (prebuildsOnly) env.PREBUILDS_ONLY = '1';
  else delete env.PREBUILDS_ONLY;
  delete env.PERFPROBE_ADDON;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, env, encoding: 'utf8', timeout: 60000 });
  if (r.status === 0) {
    try {
      return { ok: true, path: JSON.parse(r.stdout.trim().split('\n').pop()).path };
    } catch {
      // fall through: unexpected output
    }
  }
  const error = r.error ? r.error.message : `${r.stderr || ''}`.split('\n').find((l) => /Error|error/.test(l)) || `exit ${r.status ?? r.signal}`;
  return { ok: false, error: error.trim() };
}

/** The node-gyp to run: npm's (npm_config_node_gyp), else a local one, else from PATH. */
function nodeGypCommand() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, [fromNpm, 'rebuild']];
  try {
    return [process.execPath, [require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] }), 'rebuild']];
  } catch {
    return [process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp', ['rebuild']];
  }
}

/** Runs node-gyp rebuild, echoing and keeping its output; resolves { code, output }. */
function build() {
  const [cmd, args] = nodeGypCommand();
  const timeoutMs = Number(process.env.PERFPROBE_BUILD_TIMEOUT_MS) || 600000;
  return new Promise((done) => {
    let output = '';
    let child;
    try {
      child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], shell: cmd.endsWith('.cmd'), windowsHide: true });
    } catch (err) {
      done({ code: -1, output: String(err && err.message) });
      return;
    }
    const keep = (chunk) => {
      output += chunk;
      if (output.length > 200000) output = output.slice(-100000);
    };
    child.stdout.on('data', (d) => { keep(d); process.stdout.write(d); });
    child.stderr.on('data', (d) => { keep(d); process.stderr.write(d); });
    const timer = setTimeout(() => { output += `\nthe build took longer than ${timeoutMs} ms and was stopped`; child.kill(); }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); done({ code: -1, output: `${output}\n${err.message}` }); });
    child.on('close', (code, signal) => { clearTimeout(timer); done({ code: code ?? (signal ? 128 : 1), output }); });
  });
}

/** Why the build failed and what to do, from its output. */
function diagnose(output) {
  const tools =
    process.platform === 'win32'
      ? 'Visual Studio Build Tools with "Desktop development with C++" and Python 3'
      : process.platform === 'darwin'
        ? 'the Xcode command line tools (xcode-select --install)'
        : 'python3, make and a C++17 compiler (Debian/Ubuntu: apt-get install python3 make g++; RHEL: dnf install python3 make gcc-c++)';
  const rules = [
    [/Could not find any Python|gyp ERR! find Python|spawn python\S* ENOENT/i, 'Python 3 was not found (node-gyp needs it)'],
    [/not found: make|make: (command )?not found|spawn g?make ENOENT|gmake.*not found/i, 'make was not found'],
    [/Could not find any Visual Studio|find VS/i, 'no Visual Studio C++ build tools were found'],
    [/(g\+\+|c\+\+|clang\+\+|cc|gcc): (command )?not found|No such file or directory.*\b(g\+\+|c\+\+|cc)\b|spawn (g\+\+|c\+\+|cc) ENOENT/i, 'no C++ compiler was found'],
    [/ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|getaddrinfo|self.signed certificate|unable to get local issuer/i,
      "node-gyp could not download Node's headers (offline?); set npm_config_nodedir to a local Node source or headers tree"],
    [/Cannot find module.*node-gyp|node-gyp: (command )?not found|spawn node-gyp/i, 'node-gyp is not available to run the build'],
    [/longer than \d+ ms/, 'the build timed out'],
    [/error:|Error \d+|make: \*\*\*|gyp ERR!/, 'the C++ build failed (the compiler or its setup is broken; see the log)'],
  ];
  const hit = rules.find(([re]) => re.test(output));
  return {
    reason: hit ? hit[1] : 'the source build failed',
    fix: `install ${tools}, then run \`npm rebuild perfprobe\``,
  };
}

async function main() {
  if (['0', 'false', 'off'].includes(process.env.PERFPROBE_ADDON ?? '')) {
    console.log('perfprobe: PERFPROBE_ADDON=0, not installing the native addon (the Node.js fallbacks are used)');
    return;
  }
  rmSync(failureFile, { force: true });
  const fromSource = process.env.npm_config_build_from_source === 'true';
  let prebuildError = 'skipped (--build-from-source)';
  if (!fromSource) {
    const pre = tryLoad(true);
    if (pre.ok) {
      console.log(`perfprobe: using the prebuilt addon ${pre.path}`);
      return;
    }
    prebuildError = existsSync(join(root, 'prebuilds', target)) ? pre.error : `none for ${target}`;
    console.log(`perfprobe: no prebuilt addon loads here (${prebuildError}); building from source with node-gyp`);
  }

  const { code, output } = await build();
  if (code === 0) {
    const built = tryLoad(false);
    if (built.ok) {
      console.log(`perfprobe: built the addon from source: ${built.path}`);
      return;
    }
    // A binary that does not load would be found first and fail at every import.
    rmSync(join(root, 'build', 'Release', 'perfprobe.node'), { force: true });
    writeFailure({ reason: `the addon built but does not load: ${built.error}`, fix: 'report this with the build log; run `npm rebuild perfprobe` after fixing the toolchain' }, output, prebuildError);
    return;
  }
  writeFailure(diagnose(output), output, prebuildError);
}

function writeFailure(diag, output, prebuildError) {
  const record = {
    date: new Date().toISOString(),
    node: process.version,
    target,
    prebuild: prebuildError,
    reason: diag.reason,
    fix: diag.fix,
    logTail: output.split('\n').slice(-40).join('\n'),
  };
  try {
    mkdirSync(join(root, 'build'), { recursive: true });
    writeFileSync(failureFile, `${JSON.stringify(record, null, 2)}\n`);
  } catch {
    // read-only install dir: the warning at import still says what failed
  }
  if (existsSync(join(root, '.git'))) {
    console.error(`perfprobe: the addon build failed in the development checkout: ${diag.reason}. ${diag.fix}.`);
    process.exitCode = 1;
    return;
  }
  console.warn(
    `perfprobe: the native addon is not installed: ${diag.reason}. perfprobe works without it on its Node.js fallbacks ` +
      `(no sampling while the event loop is blocked, no process-tree RSS). To get it: ${diag.fix}.`,
  );
}

main().catch((err) => {
  // Never fail the install.
  console.warn(`perfprobe: install script error (ignored; the Node.js fallbacks will be used): ${err && err.stack}`);
});
