/** The training option table (src/train/config.ts) as commander flags. */
import { Option, type Command } from 'commander';
import { TRAIN_SPECS } from '../train/config.js';

/** Adds every option of the table to a commander command. */
export function addTrainOptions(cmd: Command): Command {
  for (const spec of TRAIN_SPECS) {
    const arg = spec.kind === 'bool' ? '' : ` <${spec.kind === 'samples' ? 'n|all' : spec.kind === 'string' ? 'value' : 'n'}>`;
    const opt = new Option(`--${spec.flag}${arg}`, spec.help);
    if (spec.choices) opt.choices(spec.choices);
    cmd.addOption(opt);
    // Booleans a preset may switch on can be switched off again (--no-bidirectional).
    if (spec.kind === 'bool') cmd.addOption(new Option(`--no-${spec.flag}`, `turn --${spec.flag} off`));
  }
  return cmd;
}
