/**
 * One reader per topic, however many listen. A live subscription that re-reads the database
 * on a timer costs a transaction per interval; two thousand quiet subscribers to one job must
 * not cost two thousand. Subscribers join a topic (a tenant's job, dataset or audit trail);
 * the topic's reader starts with the first listener, reads once per interval (or sooner when
 * woken), fans the result out to every listener, and stops with the last one.
 *
 * The topic key must include the tenant: a reader reads within one tenant's scope, so
 * listeners of two tenants never share one.
 */

/** What a topic reads and how it lets go; made once per topic, for its first listener. */
export interface TopicSource<L> {
  /**
   * One read for every current listener: on the interval (`interval`) or because a listener
   * or an event asked for one (`wake`). Never runs twice at once for one topic.
   */
  read(listeners: readonly L[], cause: 'interval' | 'wake'): Promise<void>;
  /** The last listener left: release what the topic holds (a bus subscription). */
  close(): void;
}

/** What a topic's source may ask of its topic. */
export interface TopicHandle<L> {
  /** Asks for a read now (coalesced with one already running). */
  wake(): void;
  /** The current listeners (for fanning out events heard between reads). */
  listeners(): readonly L[];
}

/** A listener's place in a topic. */
export interface TopicMembership {
  /** Leaves the topic; the last to leave stops its reader. Idempotent. */
  leave(): void;
  /** Asks for a read now (coalesced with one already running). */
  wake(): void;
}

interface Topic {
  listeners: Set<unknown>;
  source: TopicSource<unknown>;
  timer: NodeJS.Timeout;
  reading: boolean;
  again: boolean;
}

export interface TopicReadersOptions {
  /** Told when a read fails; the topic keeps its listeners and reads again next interval. */
  onError(error: unknown, key: string): void;
}

export class TopicReaders {
  private readonly topics = new Map<string, Topic>();

  constructor(private readonly options: TopicReadersOptions) {}

  /**
   * Adds `listener` to the topic `key`, opening the topic with `open` when it is the first.
   * Every `intervalMs` the topic reads.
   */
  join<L>(key: string, listener: L, intervalMs: number, open: (topic: TopicHandle<L>) => TopicSource<L>): TopicMembership {
    let topic = this.topics.get(key);
    if (!topic) {
      const listeners = new Set<unknown>();
      const handle: TopicHandle<L> = { wake: () => this.run(key, created, 'wake'), listeners: () => [...listeners] as L[] };
      const created: Topic = {
        listeners,
        source: open(handle) as TopicSource<unknown>,
        timer: setInterval(() => this.run(key, created, 'interval'), intervalMs),
        reading: false,
        again: false,
      };
      this.topics.set(key, (topic = created));
    }
    const joined = topic;
    joined.listeners.add(listener);
    let left = false;
    return {
      leave: () => {
        if (left) return;
        left = true;
        joined.listeners.delete(listener);
        if (joined.listeners.size > 0 || this.topics.get(key) !== joined) return;
        this.topics.delete(key);
        this.shut(joined);
      },
      wake: () => {
        if (!left) this.run(key, joined, 'wake');
      },
    };
  }

  /** Topics with a reader, for metrics and tests. */
  get activeTopics(): number {
    return this.topics.size;
  }

  /** Stops every reader (server shutdown); listeners are ended by their transports. */
  close(): void {
    for (const topic of this.topics.values()) this.shut(topic);
    this.topics.clear();
  }

  private shut(topic: Topic): void {
    clearInterval(topic.timer);
    topic.listeners.clear();
    topic.source.close();
  }

  private run(key: string, topic: Topic, cause: 'interval' | 'wake'): void {
    if (this.topics.get(key) !== topic) return;
    if (topic.reading) {
      // A wake during a read may carry news the read began too early to see: read once more.
      if (cause === 'wake') topic.again = true;
      return;
    }
    topic.reading = true;
    void (async () => {
      let next: 'interval' | 'wake' | undefined = cause;
      while (next && topic.listeners.size > 0) {
        topic.again = false;
        try {
          await topic.source.read([...topic.listeners], next);
        } catch (error) {
          this.options.onError(error, key);
        }
        next = topic.again ? 'wake' : undefined;
      }
      topic.reading = false;
    })();
  }
}
