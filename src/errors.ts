/**
 * The errors s2s raises on purpose. Every one extends S2SError: bad input
 * (a corpus line, a bundle file, an option value, a sentence too long for the
 * model), a full server queue, a failed save. Anything else that escapes s2s
 * is a bug, and the command line says so (see cli/exit.ts). This module sits
 * below every layer, so any of them may import it; the concept-specific
 * classes (CorpusError, BundleError, WeightsError, …) live with their
 * concepts and extend S2SError.
 */

/** Base class of every error s2s raises on purpose; its message is meant for the user as it is. */
export class S2SError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'S2SError';
  }
}

/** An invalid option, flag or configuration value; the message names the field. */
export class ConfigError extends S2SError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}
