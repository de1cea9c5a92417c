/**
 * The `s2s serve` process: load the bundle, pick the web folder, listen,
 * log the limits, and shut down gracefully on SIGTERM/SIGINT.
 */
import { resolve } from 'node:path';
import { loadBundle } from '../bundle/bundle.js';
import { describeArchitecture } from '../model/config.js';
import { defaultWebFolder } from '../web/export.js';
import { createServer, type ServeOptions } from './server.js';

/**
 * The `s2s serve` command: load the bundle, listen, and shut down gracefully
 * on SIGTERM/SIGINT (a second signal exits at once).
 */
export async function runServer(options: Omit<ServeOptions, 'bundle'> & { model: string }): Promise<void> {
  const log = options.log ?? ((line: string) => void process.stderr.write(line + '\n'));
  const { model, ...rest } = options;
  const bundle = loadBundle(model);
  for (const w of bundle.warnings) log(`s2s serve: warning: ${w}`);
  // Without --web, / is the translation page for this model (s2s export-web into a cache folder).
  const webDir = rest.webDir ?? defaultWebFolder(model, log);
  const s = createServer({ ...rest, bundle, log, webDir });
  await s.listen();
  const l = s.limits;
  log(
    `s2s serve: model ${model} (${describeArchitecture(bundle.config.model)}, ` +
      `${bundle.model.parameterCount().toLocaleString('en')} parameters) on ${s.url()}` +
      ` | batch window ${l.batchWindowMs} ms, max batch ${l.maxBatch}, max queue ${l.maxQueue}` +
      (webDir ? ` | web ${resolve(webDir)}` : ''),
  );
  let stopping = false;
  const onSignal = (sig: string): void => {
    if (stopping) {
      log(`s2s serve: ${sig} again, exiting now`);
      process.exit(130);
    }
    stopping = true;
    log(`s2s serve: ${sig}: finishing requests in progress, then exiting`);
    s.close().then(
      () => {
        log('s2s serve: stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log(`s2s serve: ${(err as Error)?.message ?? err}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
