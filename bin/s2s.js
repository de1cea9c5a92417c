#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';
import { describeFailure } from '../dist/src/cli/exit.js';

main(process.argv).catch((err) => {
  const { code, message } = describeFailure(err);
  if (message) console.error(message);
  process.exit(code);
});
