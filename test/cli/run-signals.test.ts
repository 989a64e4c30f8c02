// perfprobe run and signals (issue 10): the command runs in its own process group; SIGTERM/SIGINT/SIGHUP sent
// to perfprobe reach the whole group once; what is left --kill-after later gets SIGKILL; nothing is orphaned.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { collect, outputMatch, runCli, startCli, CLI, ROOT } from '../helpers/cli-helpers.js';

/** Pids still alive among `pids`. */
const alive = (pids: number[]) =>
  pids.filter((p) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  });

const leftovers: number[] = [];
after(() => {
  for (const p of alive(leftovers)) process.kill(p, 'SIGKILL');
});

/** The pids of the two background sleeps from the "pids <a> <b>" line (rejects at once if perfprobe exits first). */
async function pidsOf(child: ReturnType<typeof startCli>): Promise<number[]> {
  const m = await outputMatch(child, 'stdout', /pids (\d+) (\d+)/, 'the pids line');
  const pids = [Number(m[1]), Number(m[2])];
  leftovers.push(...pids);
  return pids;
}

test('SIGTERM to perfprobe ends the command and its background children: none is orphaned, exit 143', async () => {
  const child = startCli(['run', '--', 'sh', '-c', 'sleep 45 & a=$!; sleep 45 & echo "pids $a $!"; wait']);
  const pids = await pidsOf(child);
  child.kill('SIGTERM');
  const r = await collect(child);
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /killed by SIGTERM/);
  assert.deepEqual(alive(pids), [], 'both sleeps ended with the shell');
});

test('a group that ignores SIGTERM gets SIGKILL --kill-after later: exit 137, nothing left', async () => {
  // trap '' TERM: the shell and, inherited, both sleeps ignore SIGTERM.
  const child = startCli(['run', '--kill-after', '300ms', '--', 'sh', '-c', "trap '' TERM; sleep 45 & a=$!; sleep 45 & echo \"pids $a $!\"; wait"]);
  const pids = await pidsOf(child);
  child.kill('SIGTERM');
  const r = await collect(child);
  assert.equal(r.code, 137, r.stderr);
  assert.match(r.stderr, /outlived SIGTERM by 300ms \(--kill-after\): SIGKILL/);
  assert.match(r.stderr, /killed by SIGKILL/);
  assert.deepEqual(alive(pids), [], 'the sleeps that ignored SIGTERM were killed');
});

test('a leader that exits on SIGTERM while its children ignore it: they are killed too, the exit code is the leader\'s', async () => {
  // The shell exits 4 on TERM; the sleeps ignore it (started with TERM ignored) and outlive it.
  const script = "trap '' TERM; sleep 45 & a=$!; sleep 45 & b=$!; trap 'exit 4' TERM; echo \"pids $a $b\"; while :; do sleep 0.05; done";
  // A grace the shell's trap fits in on a loaded machine; the sleeps ignore TERM, so it is always waited out.
  const child = startCli(['run', '--kill-after', '8s', '--', 'sh', '-c', script]);
  const pids = await pidsOf(child);
  child.kill('SIGTERM');
  const r = await collect(child);
  assert.equal(r.code, 4, r.stderr);
  assert.deepEqual(alive(pids), [], 'the children left behind were killed after the grace period');
});

test("a terminal's Ctrl-C (SIGINT to perfprobe's whole process group) reaches the command once", async () => {
  // perfprobe leads its own group here, as a shell's foreground job does; the terminal signals that group.
  const cmd = "let n = 0; process.on('SIGINT', () => { if (++n === 1) setTimeout(() => { console.log('got ' + n); process.exit(0); }, 500); }); console.log('ready'); setInterval(() => {}, 1000);";
  const child = spawn(CLI[0]!, [...CLI.slice(1), 'run', '--', process.execPath, '-e', cmd], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let sent = false;
  child.stdout!.on('data', (d: Buffer) => {
    if (!sent && d.toString().includes('ready')) {
      sent = true;
      process.kill(-child.pid!, 'SIGINT');
    }
  });
  const r = await collect(child);
  assert.ok(sent);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /got 1\n/, 'one SIGINT, not the terminal\'s and a forwarded one');
});

test('bad --kill-after values are a usage error naming the option', async () => {
  for (const bad of ['0', '-1s', 'soon']) {
    const r = await runCli(['run', '--kill-after', bad, '--', 'true']);
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--kill-after/);
  }
});
