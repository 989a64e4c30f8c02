// Types for scripts/prebuild-all.mjs (used by the TypeScript tests).
export declare const TARGETS: Readonly<Record<string, { zig: string; os: 'linux' | 'win' | 'mac'; file: string; checkOnly?: boolean }>>;
export declare const RELEASE_TARGETS: readonly string[];
export declare const EXPORTED_SYMBOLS: readonly string[];
export declare function freshPrebuild(name: string): string | null;
export declare function gypSettings(osName: string): { sources: string[]; defines: string[]; include_dirs: string[]; cflags_cc: string[]; libraries: string[] };
export declare function buildTarget(name: string, options?: { zig?: string; jobs?: number }): Promise<{ target: string; output: string; warnings: string[]; seconds: number }>;
