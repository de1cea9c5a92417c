/**
 * Training progress: a bar with ETA and tokens/s on a terminal, plain log
 * lines otherwise (CI logs, pipes).
 */
import cliProgress from 'cli-progress';
import type { BatchProgress } from '../train/trainer.js';
import type { EpochRecord } from '../model/training.js';

export interface ProgressReporter {
  batch(p: BatchProgress): void;
  epoch(r: EpochRecord, totalEpochs: number): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const tty = Boolean(stream.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let barEpoch = -1;
  let lastLog = 0;
  return {
    batch(p) {
      if (tty) {
        if (!bar || barEpoch !== p.epoch) {
          bar?.stop();
          bar = new cliProgress.SingleBar(
            { stream, format: `epoch ${p.epoch} [{bar}] {value}/{total} batches | loss {loss} | {tps} tok/s | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(p.batches, 0, { loss: '-', tps: '-' });
          barEpoch = p.epoch;
        }
        bar.update(p.batch, { loss: p.loss.toFixed(4), tps: Math.round(p.tokensPerSecond) });
      } else if (Date.now() - lastLog > 30_000) {
        lastLog = Date.now();
        stream.write(`epoch ${p.epoch} batch ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} ${Math.round(p.tokensPerSecond)} tok/s\n`);
      }
    },
    epoch(r, totalEpochs) {
      bar?.stop();
      bar = null;
      const val = (r.valLoss === null ? '' : ` | val loss ${r.valLoss.toFixed(4)} | val acc ${((r.valAccuracy ?? 0) * 100).toFixed(2)}%`) +
        (r.valBleu === null || r.valBleu === undefined ? '' : ` | val BLEU ${r.valBleu.toFixed(2)}`);
      stream.write(`epoch ${r.epoch}/${totalEpochs} | loss ${r.trainLoss.toFixed(4)}${val} | ${r.seconds.toFixed(1)} s | ${Math.round(r.tokensPerSecond)} tok/s\n`);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
