// The stand-in NVML library for tests that need GPUs on machines without one.
import type { buildFakeNvml as BuildFakeNvml } from '../../scripts/build-fake-nvml.mjs';

export type FakeNvmlLibraries = ReturnType<typeof BuildFakeNvml>;

/** Builds (or reuses) every variant of the stand-in; throws with the compiler's output on failure. */
export async function fakeNvmlLibraries(): Promise<FakeNvmlLibraries> {
  const { buildFakeNvml } = (await import('../../scripts/build-fake-nvml.mjs')) as { buildFakeNvml: typeof BuildFakeNvml };
  return buildFakeNvml();
}

/**
 * Path of the full stand-in library. When it cannot be built, CI fails
 * (the compiler is something .ci/run installs) and elsewhere the test is
 * skipped and null returned.
 */
export async function fakeNvmlOrSkip(t: { skip(message?: string): void }): Promise<string | null> {
  try {
    return (await fakeNvmlLibraries()).full;
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    t.skip(`cannot build the stand-in NVML: ${(err as Error).message}`);
    return null;
  }
}
