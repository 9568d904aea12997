// The batches the tree shows: a Map by id, ordered newest first only when one is added, so that a
// progress update touches one entry and a re-list of 1,000 batches stays well under 50 ms.
import type { Batch } from '../../server/protocol/openai.js';
import type { Pace } from './format.js';

const newestFirst = (a: Batch, b: Batch): number =>
  b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export class BatchList {
  private readonly byId = new Map<string, Batch>();
  private readonly paces = new Map<string, Pace>();
  /** The ids newest first; null when a batch was added since it was sorted. */
  private order: string[] | null = [];

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Batch | undefined {
    return this.byId.get(id);
  }

  pace(id: string): Pace | undefined {
    return this.paces.get(id);
  }

  /** Takes a full listing (after a connect): batches gone from the daemon go from the list too. */
  replace(batches: readonly Batch[]): void {
    this.byId.clear();
    for (const batch of batches) this.byId.set(batch.id, batch);
    for (const id of this.paces.keys()) if (!this.byId.has(id)) this.paces.delete(id);
    this.order = null;
  }

  /** Returns true when the batch is new, so its place in the order had to be found. */
  upsert(batch: Batch): boolean {
    const added = !this.byId.has(batch.id);
    this.byId.set(batch.id, batch);
    if (added) this.order = null;
    return added;
  }

  /** Returns true when one of them was listed. */
  remove(ids: readonly string[]): boolean {
    let removed = false;
    for (const id of ids) {
      removed = this.byId.delete(id) || removed;
      this.paces.delete(id);
    }
    if (removed) this.order = null;
    return removed;
  }

  setPace(id: string, pace: Pace): void {
    this.paces.set(id, pace);
  }

  /** The ids, newest first. */
  ids(): readonly string[] {
    this.order ??= [...this.byId.values()].sort(newestFirst).map((batch) => batch.id);
    return this.order;
  }
}
