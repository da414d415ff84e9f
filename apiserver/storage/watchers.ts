// The local watchers of a storage backend: each gets the events under its prefix after its revision,
// in order, with a replay (if any) delivered first, on the next microtask, so that the caller already
// holds the stop function when events arrive. Shared by the SQLite and etcd backends.
import type { StorageEvent, WatchCallback } from './interface.ts';

interface Watcher {
  prefix: string;
  /** Events at or below this revision were delivered already (or predate the watch). */
  after: number;
  cb: WatchCallback;
  /** Replayed events waiting for delivery; null once live. Live events meanwhile queue behind them. */
  backlog: StorageEvent[] | null;
  stopped: boolean;
}

export class WatcherSet {
  private readonly watchers = new Set<Watcher>();

  /** Watch keys under prefix from revision `after` on; `replay` holds the events up to where live delivery starts. */
  add(prefix: string, after: number, cb: WatchCallback, replay?: StorageEvent[]): () => void {
    const w: Watcher = { prefix, after, cb, backlog: null, stopped: false };
    if (replay) {
      w.backlog = replay;
      queueMicrotask(() => {
        const backlog = w.backlog ?? [];
        w.backlog = null;
        if (!w.stopped && backlog.length) this.deliver(w, backlog);
      });
    }
    this.watchers.add(w);
    return () => {
      w.stopped = true;
      this.watchers.delete(w);
    };
  }

  publish(events: StorageEvent[]): void {
    for (const w of this.watchers) {
      const mine = events.filter((e) => e.kv.modRevision > w.after && e.kv.key.startsWith(w.prefix));
      if (!mine.length) continue;
      if (w.backlog) w.backlog.push(...mine);
      else this.deliver(w, mine);
    }
  }

  clear(): void {
    this.watchers.clear();
  }

  private deliver(w: Watcher, events: StorageEvent[]): void {
    w.after = events[events.length - 1].kv.modRevision;
    try {
      w.cb(events);
    } catch (err) {
      // One faulty consumer must not break delivery to the others, nor the writers' commit path.
      process.emitWarning(`storage watch callback threw: ${(err as Error).message}`);
    }
  }
}
