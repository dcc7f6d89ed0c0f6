/**
 * A dataset's settings, live: as they stand, then again after each change (renamed, its
 * embeddings model set or cleared, ...), ending when the dataset is deleted. A change that
 * starts no job (clearing the model) is heard here, where the dataset's job feed hears nothing.
 *
 * Events on the bus are hints (published after the change committed, by whichever process made
 * it): the topic reads the dataset again when one arrives, and on its interval (one small
 * read by primary key), so a hint lost (Redis away) delays a change but loses none. One reader
 * per tenant and dataset, however many pages follow it (platform/subscriptions/topic-readers.ts).
 */
import { listenerStream } from '../../platform/subscriptions/listener-stream.js';
import type { TopicReaders, TopicSource } from '../../platform/subscriptions/topic-readers.js';
import type { DatasetChangeMessage } from '../../platform/events/event-bus.js';

/** What a subscriber is sent: the dataset's own settings (no counts: those move with every job). */
export interface DatasetSettings {
  id: string;
  tenantId: string;
  name: string;
  slug: string;
  description: string | null;
  language: string;
  documentRetentionHours: number | null;
  /** The model new chunks are embedded with; null: keyword search only. */
  embeddingModelId: string | null;
  updatedAt: Date;
}

export interface DatasetFeedOptions {
  tenantId: string;
  /** Reads the dataset in the subscriber's tenant, in a short transaction of its own; null: gone. */
  read(datasetId: string): Promise<DatasetSettings | null>;
  /** False once the subscriber's scope has ended. */
  readonly open: () => boolean;
  hints: { listenDatasetChanges(datasetId: string): AsyncIterableIterator<DatasetChangeMessage> };
  readers: TopicReaders;
  pollMs: number;
}

interface Listener {
  options: DatasetFeedOptions;
  offer(settings: DatasetSettings | null): void;
}

/** `start` was read by the caller (who refused a dataset it cannot see); then each change. */
export function followDatasetSettings(start: DatasetSettings, options: DatasetFeedOptions): AsyncIterableIterator<DatasetSettings> {
  const { tenantId, readers, pollMs } = options;
  return listenerStream<DatasetSettings>(async ({ send, end }) => {
    let last = fingerprint(start);
    send(start);
    const listener: Listener = {
      options,
      offer: (settings) => {
        if (!settings) return end();
        const now = fingerprint(settings);
        if (now === last) return;
        last = now;
        send(settings);
      },
    };
    const membership = readers.join(`${tenantId}:dataset-settings:${start.id}`, listener, pollMs, (topic) => settingsTopic(start.id, tenantId, options.hints, topic));
    // A change between reading `start` and joining: one (shared) read catches up.
    membership.wake();
    return membership;
  });
}

function settingsTopic(datasetId: string, tenantId: string, bus: DatasetFeedOptions['hints'], topic: { wake(): void }): TopicSource<Listener> {
  const hints = bus.listenDatasetChanges(datasetId);
  void (async () => {
    for await (const hint of hints) {
      // Ids are unique across tenants; this keeps a topic to its tenant even if not.
      if (hint.tenantId === tenantId) topic.wake();
    }
  })().catch(() => undefined);
  return {
    async read(listeners) {
      // Any listener reads the tenant's rows alike; one whose subscription is ending may have had its scope closed.
      const reader = (listeners.find((listener) => listener.options.open()) ?? listeners[0]!).options;
      const settings = await reader.read(datasetId);
      for (const listener of listeners) listener.offer(settings);
    },
    close: () => void hints.return?.(),
  };
}

function fingerprint(settings: DatasetSettings): string {
  return JSON.stringify({ ...settings, updatedAt: settings.updatedAt.getTime() });
}
