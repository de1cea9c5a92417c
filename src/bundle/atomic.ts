/**
 * Crash-safe file writes: write a temporary file in the same directory,
 * fsync it, rename it over the target, fsync the directory. A reader sees
 * the old file or the new one, never a torn one.
 *
 * Two test hooks, inactive unless their environment variables are set (see
 * docs/reliability.md): S2S_TEST_SLOW_CHECKPOINT_MS sleeps that long at each
 * step of a save (half-way through a file, before its rename, between the
 * steps of a checkpoint), announcing each pause on stderr as
 * `[s2s test pause] <where>`, so a test can kill the process mid-write;
 * S2S_TEST_FAIL_WRITE=<text> makes every atomic write whose path contains
 * <text> fail like a full disk (ENOSPC) after writing half its bytes.
 */
import { openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';

/**
 * The temporary file beside `path`: `.<name>.<pid>.<16 random hex>.tmp`. The
 * pid lets a later writer remove temporaries of killed processes; the random
 * part makes the name unguessable, so nobody can plant a link there first.
 */
export function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
}

/** What temporary files of killed writers look like; group 1 is the writer's pid. */
export const TEMPORARY_NAME = /^\..+\.(\d+)\.(?:[0-9a-f]{16}|\d+)\.tmp$/;

/**
 * Creates a temporary file exclusively (O_CREAT|O_EXCL, mode 0644): if anything —
 * a file, a planted symlink — already has the name, this fails with EEXIST
 * rather than writing through it.
 */
export function openTemporary(tmp: string): number {
  return openSync(tmp, 'wx', 0o644);
}

/** Test hook: a pause at one step of a save (no-op unless S2S_TEST_SLOW_CHECKPOINT_MS is set). */
export function testPause(where: string): void {
  const ms = Number(process.env.S2S_TEST_SLOW_CHECKPOINT_MS);
  if (!(ms > 0)) return;
  process.stderr.write(`[s2s test pause] ${where}\n`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function injectedFault(path: string): boolean {
  const text = process.env.S2S_TEST_FAIL_WRITE;
  return text !== undefined && text !== '' && path.includes(text);
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  const tmp = temporaryPath(path);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openTemporary(tmp);
  try {
    const half = bytes.length >> 1;
    let off = 0;
    while (off < half) off += writeSync(fd, bytes, off, half - off);
    testPause(`half-written ${path}`);
    if (injectedFault(path)) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${tmp}' (injected by S2S_TEST_FAIL_WRITE)`), { code: 'ENOSPC', errno: -28, syscall: 'write', path: tmp });
    }
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw err;
  }
  closeSync(fd);
  testPause(`before-rename ${path}`);
  // rename(2) replaces whatever is at `path` — a symlink included — and never writes through it.
  renameSync(tmp, path);
  fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  }
}

export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}

/** True when no process with this id is running (so its temporary files are garbage). */
export function processGone(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A file written piece by piece that appears at its path only when committed (see openAtomicWriter). */
export interface AtomicWriter {
  write(data: string | Uint8Array): void;
  /** Flushes, fsyncs and renames the file into place. */
  commit(): void;
  /** Deletes the temporary file; the target stays as it was. */
  abort(): void;
}

/**
 * writeFileAtomic for output too large to hold in memory (a translated
 * million-line file): pieces go to a temporary file beside the target as
 * they come; commit() renames it into place.
 */
export function openAtomicWriter(path: string): AtomicWriter {
  const dir = dirname(path);
  const tmp = temporaryPath(path);
  const fd = openTemporary(tmp);
  let open = true;
  const close = (): void => {
    if (open) closeSync(fd);
    open = false;
  };
  return {
    write(data) {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    },
    commit() {
      fsyncSync(fd);
      close();
      renameSync(tmp, path);
      fsyncDir(dir);
    },
    abort() {
      close();
      try { unlinkSync(tmp); } catch { /* already gone */ }
    },
  };
}
