/** Process-wide service dependencies for tests that execute the schema without the HTTP server. */
import { parseConfig } from '../../src/config.js';
import type { Orm } from '../../src/db/orm.js';
import { AccessTokens } from '../../src/domains/identity/access-token.js';
import { CredentialStore } from '../../src/domains/identity/credential-store.js';
import { systemClock } from '../../src/domains/clock.js';
import { SecretBox } from '../../src/platform/secrets/secret-box.js';
import type { ServiceDependencies } from '../../src/domains/service-context.js';
import { createEventBus } from '../../src/platform/events/event-bus.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { TopicReaders } from '../../src/platform/subscriptions/topic-readers.js';

export async function testServiceDependencies(orm: Orm): Promise<ServiceDependencies> {
  const { progress } = await createEventBus({ redisUrl: undefined, logger: createLogger({ level: 'silent' }) });
  return {
    tokens: new AccessTokens('x'.repeat(32), 900),
    credentials: new CredentialStore(orm),
    production: false,
    ingestion: parseConfig({ NODE_ENV: 'test' }).ingestion,
    progress,
    topicReaders: new TopicReaders({ onError: () => undefined }),
    secrets: new SecretBox(Buffer.alloc(32, 7)),
    modelSettings: parseConfig({ NODE_ENV: 'test' }).models,
    vectorSearch: parseConfig({ NODE_ENV: 'test' }).vectorSearch,
    egress: parseConfig({ NODE_ENV: 'test' }).egress.privateNetworks,
    clock: systemClock,
  };
}
