// Types for scripts/build-fake-nvml.mjs (used by the TypeScript tests).
export declare const FAKE_NVML_VARIANTS: Readonly<Record<'full' | 'v1' | 'nov3' | 'missing' | 'noinit' | 'old', readonly string[]>>;
export declare function fakeNvmlFileName(name: string, platform?: string): string;
export declare function buildFakeNvml(options?: { cc?: string[]; platform?: string; outDir?: string }): { full: string; v1: string; nov3: string; missing: string; noinit: string; old: string };
