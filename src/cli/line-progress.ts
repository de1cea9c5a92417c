/**
 * Progress of a streaming translation on stderr: with a known input size, a
 * bar with percent and ETA; without (a pipe), a count of lines and lines/s.
 * Redrawn at most a few times a second, on one line.
 */
export interface LineProgress {
  /** After each translated line; `bytesRead` is how far into the input reading has got. */
  update(lines: number, bytesRead: number): void;
  /** Clears the line (before a warning, and at the end). */
  clear(): void;
  stop(): void;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, '0'), ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** @param totalBytes the input's size when known (a file), else null */
export function createLineProgress(stream: NodeJS.WriteStream, totalBytes: number | null, now: () => number = () => performance.now()): LineProgress {
  const t0 = now();
  let last = -Infinity;
  let drawn = false;
  let state = { lines: 0, bytes: 0 };
  const draw = (): void => {
    const seconds = (now() - t0) / 1000;
    const rate = seconds > 0 ? state.lines / seconds : 0;
    let text = `translated ${state.lines.toLocaleString('en')} lines | ${rate.toFixed(1)} lines/s`;
    if (totalBytes !== null && totalBytes > 0) {
      const fraction = Math.min(1, state.bytes / totalBytes);
      const width = 30;
      const filled = Math.round(fraction * width);
      const eta = fraction > 0 ? seconds * (1 - fraction) / fraction : Infinity;
      text = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(1)}% | ${text} | ETA ${clock(eta)}`;
    }
    stream.write(`\r${text}\x1b[K`);
    drawn = true;
  };
  return {
    update(lines, bytesRead) {
      state = { lines, bytes: bytesRead };
      const t = now();
      if (t - last < 200) return;
      last = t;
      draw();
    },
    clear() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
      last = -Infinity;
    },
    stop() {
      if (state.lines > 0) draw();
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
