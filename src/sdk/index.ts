/** The Sluice SDK: the client and every operation's typed document. */
export { createClient, SluiceError, type ClientOptions, type Session, type SluiceClient, type VariablesArgument } from './client.js';
export * from './generated/graphql.js';
