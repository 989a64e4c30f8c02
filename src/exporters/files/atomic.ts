/**
 * Atomic, streamed file writing, for every file perfprobe writes (exports,
 * `perfprobe run --json/--csv/--markdown`):
 * - streamed: the producer pushes its content in chunks (the export writers
 *   through a double-buffered ByteSink, ./byte-sink.ts) and waits while the
 *   previous chunk is written (backpressure), so 1,000,000 records never
 *   become one string;
 * - atomic: written to a temporary file in the target directory (an
 *   fdatasync started in the background every SYNC_EVERY_BYTES, so the disk
 *   writes back while the producer goes on), fsync'ed, then linked to its final name (no clobbering: a suffix is added when the
 *   name exists) or, with `replace`, renamed over it; the temporary name is
 *   removed. A failed write rejects with an error (code
 *   ERR_PERFPROBE_EXPORT_FAILED) naming the path and the cause, and leaves
 *   no file behind. The temporary name records the writer (pid, start
 *   time, host and PID namespace: ./stale-temp.ts), and each write first
 *   removes the temporary files in its directory whose writer is gone (a
 *   `kill -9` mid-export leaves one; a live writer's is never touched).
 */
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, codedError } from '../../errors.js';
import { removeStaleTemps, tempName } from './stale-temp.js';

/** Bytes written between two background fdatasync calls of a file being written. */
export const SYNC_EVERY_BYTES = 32 << 20;

export type ExportError = Error & { code: string; path: string; cause: unknown };

export function exportError(op: string, path: string, cause: unknown): ExportError {
  const code = (cause as NodeJS.ErrnoException | null)?.code;
  const reason = cause instanceof Error ? `${code ? `${code}: ` : ''}${cause.message}` : String(cause);
  return codedError(ErrorCode.exportFailed, `${op}: cannot write ${path}: ${reason}`, { path }, cause) as ExportError;
}

/** Pushes the file's content, in order: text (UTF-8) or bytes (a buffer the writer may reuse once the promise resolves). */
export type Produce = (write: (chunk: string | Uint8Array) => Promise<void>) => Promise<void>;

/**
 * Writes the chunks from `produce` into a fresh file in `directory` named
 * `${base}${suffix}${ext}` (suffix '' or _1, _2, ...), atomically; resolves
 * to the path written.
 */
export function writeAtomic(op: string, directory: string, base: string, ext: string, produce: Produce): Promise<string> {
  return write(op, directory, base, ext, produce, false);
}

/**
 * Writes `path` atomically, replacing a file of that name (for paths a user
 * names: `perfprobe run --json FILE`). A symlink is followed (its target is
 * replaced); a path that is not a regular file (/dev/stdout, a pipe) is
 * written in place, as nothing can be renamed over it.
 */
export async function replaceAtomic(op: string, path: string, produce: Produce): Promise<string> {
  const target = await fsp.realpath(path).catch(() => path);
  const st = await fsp.stat(target).catch(() => null);
  if (st && !st.isFile()) {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(target, 'w');
      const handle = fh;
      await produce(async (chunk) => void (typeof chunk === 'string' ? await handle.write(chunk) : await handle.write(chunk, 0, chunk.length, null)));
      await fh.close();
      fh = undefined;
      return path;
    } catch (err) {
      if (fh) await fh.close().catch(() => undefined);
      throw exportError(op, path, err);
    }
  }
  return write(op, dirname(target), basename(target), '', produce, true);
}

async function write(op: string, directory: string, base: string, ext: string, produce: Produce, replace: boolean): Promise<string> {
  const firstPath = join(directory, `${base}${ext}`);
  try {
    await fsp.mkdir(directory, { recursive: true });
  } catch (err) {
    throw exportError(op, firstPath, err);
  }
  await removeStaleTemps(directory);
  const tmp = join(directory, tempName(`${base}${ext}`));
  let fh: fsp.FileHandle | undefined;
  let stage = tmp;
  try {
    fh = await fsp.open(tmp, 'wx', 0o644);
    const handle = fh;
    // Every SYNC_EVERY_BYTES written, an fdatasync starts in the background (one at a time): the disk
    // writes the file back while the producer goes on, so the fsync before the link waits for the last
    // stretch only (188 MB of JSON: ~160 ms of fsync at the end otherwise, on this machine's disk).
    let unsynced = 0;
    let syncing: Promise<void> | null = null;
    let syncError: unknown = null;
    await produce(async (chunk) => {
      // write(2) may write less than asked (a full disk does): loop until all
      // is written, so the next call reports the error (ENOSPC).
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await handle.write(buf, off, buf.length - off, null);
        if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
        off += bytesWritten;
      }
      if (syncError !== null) throw syncError;
      unsynced += buf.length;
      if (unsynced >= SYNC_EVERY_BYTES && syncing === null) {
        unsynced = 0;
        syncing = handle.datasync().then(
          () => void (syncing = null),
          (err: unknown) => {
            syncError = err;
            syncing = null;
          },
        );
      }
    });
    if (syncing !== null) await syncing;
    if (syncError !== null) throw syncError;
    await handle.sync();
    await handle.close();
    fh = undefined;
    if (replace) {
      stage = firstPath;
      await fsp.rename(tmp, firstPath);
      await syncDir(directory);
      return firstPath;
    }
    // Link (fails with EEXIST instead of clobbering) under the first free name.
    for (let i = 0; ; i++) {
      const candidate = join(directory, `${base}${i === 0 ? '' : `_${i}`}${ext}`);
      stage = candidate;
      try {
        await fsp.link(tmp, candidate);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' && i < 10_000) continue;
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
          // File systems without hard links: check, then rename.
          const exists = await fsp.stat(candidate).then(
            () => true,
            () => false,
          );
          if (exists) continue;
          await fsp.rename(tmp, candidate);
          await syncDir(directory);
          return candidate;
        }
        throw err;
      }
      await fsp.unlink(tmp).catch(() => undefined);
      await syncDir(directory);
      return candidate;
    }
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw exportError(op, stage === tmp ? firstPath : stage, err);
  }
}

async function syncDir(directory: string): Promise<void> {
  try {
    const d = await fsp.open(directory, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Directory fsync is best effort (not supported everywhere).
  }
}
