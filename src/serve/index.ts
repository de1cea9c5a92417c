/** The translation server: HTTP API, request batching, static files, the `s2s serve` process. */
export { createServer, type ServeOptions, type ServeLimits, type S2SServer } from './server.js';
export { runServer } from './run.js';
export { HttpError, isLoopbackHost } from './http.js';
export { parseTranslateRequest, MAX_BEAM, type TranslateRequest } from './translate-request.js';
export { Batcher, QueueFullError, BatcherClosedError, type BatchKey, type BatcherOptions, type BatcherStats, type TranslateBatch } from './batcher.js';
