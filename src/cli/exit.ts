/**
 * How the `s2s` command ends when a command fails: what it prints and its
 * exit code. An S2SError is the user's to fix (its message says how), so
 * only the message is printed; so is a failed system call (a missing file,
 * a full disk). A command-line usage error has already been printed by
 * commander. Anything else is a bug in s2s: the full stack, and an exit code
 * of its own so scripts can tell the two apart.
 */
import { CommanderError } from 'commander';
import { S2SError } from '../errors.js';

/** Exit codes of the `s2s` command. */
export const EXIT_CODES = {
  ok: 0,
  /** An S2SError or a failed system call: bad input, missing file, full disk… */
  error: 1,
  /** Command-line usage: unknown option or command, missing or invalid argument. */
  usage: 2,
  /** `s2s translate`: some lines could not be translated (each got an empty line and a warning), the others were. */
  someLinesFailed: 3,
  /** A bug in s2s (sysexits' EX_SOFTWARE). */
  bug: 70,
} as const;

/** The exit code and the text for stderr (null: nothing more to print) of a command that threw `err`. */
export function describeFailure(err: unknown): { code: number; message: string | null } {
  if (err instanceof CommanderError) return { code: err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage, message: null };
  if (err instanceof S2SError || isSystemError(err)) return { code: EXIT_CODES.error, message: `s2s: ${(err as Error).message}` };
  const stack = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return {
    code: EXIT_CODES.bug,
    message: `s2s: internal error: this is a bug in s2s, please report it with the following:\n${stack}`,
  };
}

/** An error of a system call (ENOENT, EACCES, ENOSPC…), not of s2s's own logic. */
function isSystemError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | null;
  return e instanceof Error && typeof e.code === 'string' && typeof e.syscall === 'string';
}
