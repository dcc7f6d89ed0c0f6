/** The Sluice SDK: the client and every operation's typed document. */
export { createClient, SluiceError, type ClientOptions, type RequestArguments, type RequestOptions, type Session, type SluiceClient, type VariablesArgument } from './client.js';
export { DEFAULT_MAX_RESPONSE_BYTES, MAX_TIMEOUT_MS } from './limits.js';
export type { UploadProgress } from './upload-progress.js';
export * from './generated/graphql.js';
