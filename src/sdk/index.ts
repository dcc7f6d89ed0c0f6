/** The Sluice SDK: the client and every operation's typed document. */
export { createClient, SluiceError, type ClientOptions, type RequestOptions, type Session, type SluiceClient } from './client.js';
export type { UploadProgress } from './upload-progress.js';
export * from './generated/graphql.js';
