// Every fenced code block in README.md is run as written (the project's
// rule), one test per block. The rule per info string; a block with any
// other info string (or none) fails, so a new block must pick one:
//
//  js        run by node (CommonJS; ESM when it uses import/export) in a
//            temporary project where `perfprobe` resolves to this package
//            (node_modules/perfprobe -> the compiled tree): exit 0 within 2 min.
//  sh        each line (a trailing `# comment` dropped) is a command, run as
//            written by sh in that project, with node_modules/.bin on PATH,
//            npm offline, and the files the commands name made first
//            (train.py, base.json and current.json: two JSON exports of the
//            same records). Exit 0; a `--json FILE` must be written. Except:
//              `npm install perfprobe`: this checkout is not on the registry:
//                the name must be package.json's (test/install.test.ts and
//                test/prebuild.test.ts install the packed package that way);
//              `npm ci`, `npm test`, `npm start`, `npm run X`: the project's own
//                commands (npm test is this suite): the script must exist and
//                .ci/run must run npm ci and npm test;
//              `perfprobe serve` runs until stopped: it is started as written
//                in a private network namespace (so its port is free), must
//                answer /metrics, and must stop cleanly on Ctrl-C (SIGINT to
//                its process group);
//              `perfprobe watch` needs a terminal: it runs in tmux, must draw
//                its screen, and must exit 0 on `q`.
//  yaml      a Prometheus configuration: `promtool check config --syntax-only`.
//  promql    one expression per line: `promtool check rules` parses each.
//  text      not code (a file tree): every path it names must exist.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

const root = join(__dirname, '..', '..');
const CI = process.env.CI === 'true';
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; scripts: Record<string, string> };

interface Block { lang: string; body: string; line: number; heading: string }

/** The fenced blocks of README.md, with the line each starts on and the heading above it. */
function readmeBlocks(): Block[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const blocks: Block[] = [];
  let open: { lang: string; line: number; heading: string; body: string[] } | null = null;
  let heading = '(top)';
  lines.forEach((l, i) => {
    const fence = /^```(\S*)\s*$/.exec(l);
    if (fence) {
      if (!open) open = { lang: fence[1]!, line: i + 1, heading, body: [] };
      else {
        blocks.push({ lang: open.lang, body: open.body.join('\n'), line: open.line, heading: open.heading });
        open = null;
      }
      return;
    }
    if (open) open.body.push(l);
    else if (/^#{1,6} /.test(l)) heading = l.replace(/^#+ /, '');
  });
  assert.equal(open, null, 'README.md has an unclosed code fence');
  return blocks;
}

const blocks = readmeBlocks();
let project = '';
let env: NodeJS.ProcessEnv = {};

function have(cmd: string, args = ['--version']): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}
function needTool(t: { skip(m: string): void }, ok: boolean, why: string): boolean {
  if (ok) return true;
  if (CI) assert.fail(`${why} (.ci/run installs it)`);
  t.skip(why);
  return false;
}

before(() => {
  assert.ok(existsSync(join(root, 'dist', 'index.js')) && existsSync(join(root, 'dist', 'cli', 'main.js')), 'dist/ is compiled (npm test compiles first)');
  project = mkdtempSync(join(tmpdir(), 'perfprobe-readme-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'readme-project', private: true, dependencies: { perfprobe: `file:${root}` } }));
  mkdirSync(join(project, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(root, join(project, 'node_modules', 'perfprobe'), 'dir');
  const bin = join(project, 'node_modules', '.bin', 'perfprobe');
  writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'dist', 'cli', 'main.js')}" "$@"\n`);
  chmodSync(bin, 0o755);

  // The files the commands name.
  writeFileSync(join(project, 'train.py'), [
    'import argparse, time',
    'p = argparse.ArgumentParser(); p.add_argument("--epochs", type=int, default=1); a = p.parse_args()',
    'held = []',
    'for epoch in range(a.epochs):',
    '    held.append(bytearray(16 << 20)); time.sleep(0.15)',
    'print(f"trained {a.epochs} epoch(s)")',
    '',
  ].join('\n'));
  const fixtures = join(project, '.fixtures');
  mkdirSync(fixtures);
  // `python` for the commands: python3 where the machine has no `python`.
  if (!have('python')) {
    const py3 = spawnSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).stdout.trim();
    if (py3) symlinkSync(py3, join(fixtures, 'python'));
  }
  const exportDir = join(project, '.exports');
  const made = spawnSync(process.execPath, ['-e', `
    const { PerformanceMetricsCollector } = require('perfprobe');
    const c = new PerformanceMetricsCollector({ exportDirectory: ${JSON.stringify(exportDir)}, enableGpuTracking: false, enableMemoryTracking: false });
    for (let i = 0; i < 200; i++) c.recordProcessingTime('resize', 10 + (i % 7), { jobId: 'job_' + i });
    Promise.resolve(c.exportToJson()).then((file) => console.log(file));`], { cwd: project, encoding: 'utf8', env: { ...process.env, PERFPROBE_NO_WARNINGS: '1' }, timeout: HANG_GUARD_MS });
  assert.equal(made.status, 0, made.stderr);
  const exported = readdirSync(exportDir).find((f) => f.endsWith('.json'));
  assert.ok(exported, `an export in ${exportDir}: ${made.stdout}`);
  copyFileSync(join(exportDir, exported), join(project, 'base.json'));
  copyFileSync(join(exportDir, exported), join(project, 'current.json'));

  env = {
    ...process.env,
    PATH: [fixtures, join(project, 'node_modules', '.bin'), process.env.PATH].join(delimiter),
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  };
  delete env.NODE_OPTIONS;
});
after(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

/** The commands of an sh block: one per line, trailing comments dropped. */
function commands(body: string): string[] {
  return body.split('\n').map((l) => l.replace(/(^|\s+)#.*$/, '').trim()).filter(Boolean);
}

// ---- runners ----
function runJs(b: Block, index: number): string {
  const esm = /^\s*(import|export)\s/m.test(b.body);
  const file = join(project, `readme-block-${index}.${esm ? 'mjs' : 'cjs'}`);
  writeFileSync(file, b.body);
  const r = spawnSync(process.execPath, [file], { cwd: project, env, encoding: 'utf8', timeout: HANG_GUARD_MS });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0, `README.md:${b.line} exited ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function runCommand(b: Block, line: string): void {
  const r = spawnSync('sh', ['-c', line], { cwd: project, env, encoding: 'utf8', timeout: HANG_GUARD_MS });
  assert.equal(r.error, undefined, `${line}: ${r.error?.message}`);
  assert.equal(r.status, 0, `README.md:${b.line} \`${line}\` exited ${r.status ?? r.signal}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const json = /--json\s+(\S+)/.exec(line)?.[1];
  if (json) assert.doesNotThrow(() => JSON.parse(readFileSync(join(project, json), 'utf8')), `${json} written as JSON`);
}

/** Whether this process may make a network namespace (root, util-linux unshare, iproute2). */
const canUnshare = process.platform === 'linux' && spawnSync('unshare', ['-n', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' }).status === 0;

function runServe(b: Block, line: string): void {
  const port = Number(/--port\s+(\d+)/.exec(line)?.[1] ?? 9464);
  assert.ok(port > 0, 'serve on a fixed port (the README shows one)');
  // Started as a user would, in its own process group; stopped by Ctrl-C (SIGINT to the group).
  const checker = join(project, 'serve-check.cjs');
  writeFileSync(checker, `
    const { spawn } = require('node:child_process');
    const http = require('node:http');
    const [line, port] = process.argv.slice(2);
    const child = spawn('sh', ['-c', line], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = ''; child.stdout.on('data', (d) => (out += d)); child.stderr.on('data', (d) => (out += d));
    let exited = null; child.on('exit', (c, s) => (exited = { code: c, signal: s }));
    const get = () => new Promise((res) => {
      const r = http.get({ host: '127.0.0.1', port: Number(port), path: '/metrics', timeout: ${HANG_GUARD_MS} }, (resp) => {
        let body = ''; resp.on('data', (d) => (body += d)); resp.on('end', () => res({ status: resp.statusCode, body }));
      });
      r.on('error', () => res(null)); r.on('timeout', () => { r.destroy(); res(null); });
    });
    (async () => {
      let answer = null;
      const end = Date.now() + ${HANG_GUARD_MS}; // a hang guard: the wait ends when the server answers or exits
      while (!answer && !exited && Date.now() < end) { answer = await get(); if (!answer) await new Promise((r) => setTimeout(r, 250)); }
      try { process.kill(-child.pid, 'SIGINT'); } catch {}
      const stopBy = Date.now() + ${HANG_GUARD_MS}; // a hang guard: Ctrl-C must stop it, however slowly
      while (!exited && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 100));
      if (!exited) { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }
      console.log(JSON.stringify({ status: answer && answer.status, metrics: !!answer && /^perfprobe_/m.test(answer.body), exited, out: out.slice(-1500) }));
    })();`);
  const args = canUnshare ? ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, checker, line, String(port)] : null;
  const r = args
    ? spawnSync('unshare', args, { cwd: project, env, encoding: 'utf8', timeout: HANG_GUARD_MS })
    : spawnSync(process.execPath, [checker, line, String(port)], { cwd: project, env, encoding: 'utf8', timeout: HANG_GUARD_MS });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(res.status, 200, `\`${line}\` answered /metrics: ${JSON.stringify(res)}`);
  assert.equal(res.metrics, true, 'Prometheus text with perfprobe_ metrics');
  // Stopped by Ctrl-C, without a kill -9: perfprobe exits 0; the npx and sh
  // around it may pass the SIGINT on as their own end (as in a terminal).
  assert.ok(res.exited, `\`${line}\` did not stop on Ctrl-C: ${res.out}`);
  assert.ok(res.exited.code === 0 || res.exited.signal === 'SIGINT' || res.exited.code === 130, `\`${line}\` ended ${JSON.stringify(res.exited)}: ${res.out}`);
  assert.doesNotMatch(res.out, /Error|at \S+ \(/, 'no error or stack trace on the way out');
}

function runWatch(b: Block, line: string): void {
  const socket = `perfprobe-readme-${process.pid}`;
  const tmux = (...a: string[]) => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...a], { encoding: 'utf8' });
  const quoted = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  try {
    tmux('new-session', '-d', '-s', 'w', '-x', '120', '-y', '40',
      `cd ${quoted(project)} && env PATH=${quoted(env.PATH!)} npm_config_offline=true npm_config_update_notifier=false sh -c ${quoted(line)}; echo WATCH-EXIT=$?; sleep 60`);
    const pane = () => tmux('capture-pane', '-p', '-t', 'w');
    const waitFor = (re: RegExp, what: string) => {
      for (let i = 0; i < 600; i++) {
        if (re.test(pane())) return;
        spawnSync('sleep', ['0.1']);
      }
      assert.fail(`\`${line}\`: ${what} not seen in 60 s:\n${pane()}`);
    };
    waitFor(/^perfprobe watch .*\(q to quit\)/m, 'its screen');
    tmux('send-keys', '-t', 'w', 'q');
    waitFor(/WATCH-EXIT=\d+/, 'the exit');
    assert.match(pane(), /WATCH-EXIT=0/);
  } finally {
    spawnSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  }
}

function checkProjectCommand(line: string): boolean {
  if (/^npm (install|i) perfprobe$/.test(line)) {
    assert.equal(pkg.name, 'perfprobe', 'the README installs the package by its name');
    return true;
  }
  const npm = /^npm (ci|test|start|run (\S+))(\s|$)/.exec(line);
  if (!npm) return false;
  const script = npm[2] ?? npm[1]!;
  if (script !== 'ci') assert.ok(pkg.scripts[script], `package.json has a "${script}" script`);
  const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
  assert.match(ci, /^[^#\n]*\bnpm ci$/m, '.ci/run runs npm ci');
  assert.match(ci, /^[^#\n]*\bnpm test$/m, '.ci/run runs npm test');
  return true;
}

test('every README code block has an info string this test knows', () => {
  const unknown = blocks.filter((b) => !['js', 'javascript', 'sh', 'yaml', 'promql', 'text'].includes(b.lang));
  assert.deepEqual(unknown.map((b) => `README.md:${b.line} "${b.lang}"`), []);
  assert.ok(blocks.length >= 5, `${blocks.length} blocks found`);
});

blocks.forEach((b, index) => {
  test(`README.md:${b.line} (${b.lang || 'no info string'}, under "${b.heading}") runs as written`, { timeout: 600000 }, (t) => {
    switch (b.lang) {
      case 'js':
      case 'javascript': {
        const out = runJs(b, index);
        if (b.body.includes("startTimer('upload'")) {
          // The quick start: what its comments promise.
          assert.match(out, /upload took \d+\.\d ms/);
          assert.match(out, /count: 1,/);
          assert.match(out, /successRate: 100/);
          assert.match(out, /\d+(\.\d+)? MiB RSS \[/);
        }
        return;
      }
      case 'sh':
        for (const line of commands(b.body)) {
          if (checkProjectCommand(line)) continue;
          if (/\bperfprobe serve\b/.test(line)) runServe(b, line);
          else if (/\bperfprobe watch\b/.test(line)) {
            if (needTool(t, have('tmux', ['-V']), 'tmux not found')) runWatch(b, line);
          } else runCommand(b, line);
        }
        return;
      case 'yaml': {
        if (!needTool(t, have('promtool'), 'promtool not found (Debian prometheus)')) return;
        const file = join(project, `readme-${b.line}.yml`);
        writeFileSync(file, b.body);
        const r = spawnSync('promtool', ['check', 'config', '--syntax-only', file], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
        return;
      }
      case 'promql': {
        if (!needTool(t, have('promtool'), 'promtool not found (Debian prometheus)')) return;
        const exprs = b.body.split('\n').filter((l) => l.trim());
        const rules = ['groups:', '  - name: readme', '    rules:', ...exprs.flatMap((e, i) => [`      - record: readme:expr_${i}`, '        expr: |', `          ${e}`])].join('\n');
        const file = join(project, `readme-${b.line}.rules.yml`);
        writeFileSync(file, `${rules}\n`);
        const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
        return;
      }
      case 'text': {
        const paths = b.body.split('\n').map((l) => /^(\S+\/)\s/.exec(`${l} `)?.[1]).filter((p): p is string => !!p);
        assert.ok(paths.length > 0, 'the block names paths');
        for (const p of paths) assert.ok(existsSync(join(root, p)), `${p} exists`);
        return;
      }
      default:
        assert.fail(`README.md:${b.line}: unknown info string "${b.lang}"`);
    }
  });
});
