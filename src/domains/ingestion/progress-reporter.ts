/**
 * The worker's side of progress: after each recorded change it hands the job's snapshot here;
 * events go out at most once per `intervalMs` per job (coalescing the changes in between),
 * except stage changes and the end, which go out at once.
 */
import type { DocumentOutcome, JobSnapshot, ProgressBus } from './progress.js';
import { isTerminal } from './stages.js';

export class ProgressReporter {
  private pending: { snapshot: JobSnapshot; outcomes: DocumentOutcome[] } | undefined;
  private publishedSequence: number;
  private publishedStage: string;
  private lastPublishAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly bus: ProgressBus,
    private readonly intervalMs: number,
    start: JobSnapshot,
  ) {
    this.publishedSequence = start.sequence;
    this.publishedStage = start.stage;
  }

  record(snapshot: JobSnapshot, outcomes: DocumentOutcome[] = []): void {
    this.pending = { snapshot, outcomes: [...(this.pending?.outcomes ?? []), ...outcomes] };
    const wait = this.lastPublishAt + this.intervalMs - Date.now();
    if (snapshot.stage !== this.publishedStage || isTerminal(snapshot.stage) || wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait);
  }

  /** Whether a change recorded now would go out at once: when a step through an input is worth recording (processed-bytes.ts). */
  due(): boolean {
    return this.timer === undefined && Date.now() - this.lastPublishAt >= this.intervalMs;
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    this.bus.publish({ snapshot: pending.snapshot, previousSequence: this.publishedSequence, outcomes: pending.outcomes });
    this.publishedSequence = pending.snapshot.sequence;
    this.publishedStage = pending.snapshot.stage;
    this.lastPublishAt = Date.now();
  }
}
