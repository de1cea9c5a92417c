/** The translation server: HTTP API, request batching. */
export { createServer, runServer, parseTranslateRequest, HttpError, isLoopbackHost, MAX_BEAM, type ServeOptions, type ServeLimits, type S2SServer } from './server.js';
export { Batcher, QueueFullError, BatcherClosedError, type BatchKey, type BatcherOptions, type BatcherStats, type TranslateBatch } from './batcher.js';
