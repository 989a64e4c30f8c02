// The perfprobe command line: durations, suggestions, the run argv split, unknown options and commands, --help.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli-helpers.js';
import { parseDuration } from '../../src/cli/duration.js';
import { suggest } from '../../src/cli/args.js';
import { splitRunArgv } from '../../src/cli/run.js';

describe('parsing', () => {
  test('durations: units ms, s, m, h; a bare number is ms', () => {
    assert.equal(parseDuration('--interval', '100ms'), 100);
    assert.equal(parseDuration('--interval', '250'), 250);
    assert.equal(parseDuration('--interval', '1.5s'), 1500);
    assert.equal(parseDuration('--interval', '2m'), 120_000);
    assert.equal(parseDuration('--interval', '1h'), 3_600_000);
    for (const bad of ['0', '0ms', '-1s', 'abc', '1d', '1 s', '', 'NaN', 'Infinity', '25h']) {
      assert.throws(() => parseDuration('--interval', bad), (e: Error) => e instanceof RangeError && e.message.startsWith('--interval must be'), bad);
    }
  });

  test('suggestions and the run argv split', () => {
    assert.equal(suggest('--intervl', ['--interval', '--json']), '--interval');
    assert.equal(suggest('sreve', ['run', 'serve', 'watch']), 'serve');
    assert.equal(suggest('zzzzzz', ['run', 'serve']), undefined);
    assert.deepEqual(splitRunArgv(['--json', 'a.json', '--', 'ls', '-l']), { options: ['--json', 'a.json'], command: ['ls', '-l'] });
    assert.deepEqual(splitRunArgv(['--interval', '1s', 'ls', '--', '-l']), { options: ['--interval', '1s'], command: ['ls', '--', '-l'] });
  });
});

describe('arguments and help', () => {
  test('an unknown option is refused with a suggestion', async () => {
    const r = await runCli(['run', '--jsn', 'x.json', '--', 'true']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--jsn' \(did you mean '--json'\?\)/);
    const w = await runCli(['serve', '--prot', '1']);
    assert.equal(w.code, 2);
    assert.match(w.stderr, /did you mean '--port'/);
  });

  test('an unknown command is refused with a suggestion', async () => {
    const r = await runCli(['wach']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'wach' \(did you mean 'watch'\?\)/);
    const far = await runCli(['frobnicate']);
    assert.equal(far.code, 2);
    assert.doesNotMatch(far.stderr, /did you mean/);
  });

  test('--help for every command', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    for (const c of ['run', 'watch', 'serve', 'compare', 'info']) assert.match(top.stdout, new RegExp(`^  ${c}\\b`, 'm'));
    for (const c of ['run', 'watch', 'serve', 'compare', 'info']) {
      const r = await runCli([c, '--help']);
      assert.equal(r.code, 0, c);
      assert.match(r.stdout, new RegExp(`^Usage: perfprobe ${c}`), c);
      assert.match(r.stdout, /-h, --help/);
    }
  });
});
