// The one hang detector of the tests that wait for a child, a stream or a page.
//
// A wait in a test ends on the awaited event itself (a line, an exit, a
// stream's end); this bound only stops one that hangs. It is generous so
// that no load makes working code hit it: the suite must pass at load 60 on
// 2 cores, and a wall-time limit short enough to matter there would make
// the test depend on the machine being idle.
export const HANG_GUARD_MS = 300_000;

/**
 * Polls `done()` every `everyMs` until it holds; throws, naming `what`,
 * after HANG_GUARD_MS (a hang), never sooner.
 */
export async function pollUntil(what: string, done: () => boolean, everyMs = 20): Promise<void> {
  const end = Date.now() + HANG_GUARD_MS;
  while (!done()) {
    if (Date.now() > end) throw new Error(`${what}: not after ${HANG_GUARD_MS} ms (a hang)`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
