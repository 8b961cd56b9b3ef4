/**
 * The observations of one collection, gathered before any reaches the SDK so that stale
 * attribute sets can be pruned first (see stale-series.ts) and then everything recorded.
 */
import type { Attributes, BatchObservableResult, Observable } from '@opentelemetry/api';

export class Observations {
  private readonly values = new Map<Observable, { value: number; attributes: Attributes }[]>();

  add(instrument: Observable, value: number, attributes: Attributes): void {
    let list = this.values.get(instrument);
    if (list === undefined) {
      list = [];
      this.values.set(instrument, list);
    }
    list.push({ value, attributes });
  }

  /** The attribute sets observed per instrument. */
  attributeSets(): Map<Observable, Attributes[]> {
    const sets = new Map<Observable, Attributes[]>();
    for (const [instrument, list] of this.values) sets.set(instrument, list.map((entry) => entry.attributes));
    return sets;
  }

  recordTo(result: BatchObservableResult): void {
    for (const [instrument, list] of this.values) {
      for (const { value, attributes } of list) result.observe(instrument, value, attributes);
    }
  }
}

/**
 * Hands out one frozen attributes object per distinct key, so each scrape reuses the objects
 * of the last one instead of allocating a new set for every series. Keys unused for a whole
 * collection are forgotten once they outnumber the used ones, so churning keys (discovered
 * ports, owner pids) cannot grow it without bound.
 */
export class AttributesCache<K> {
  private readonly cache = new Map<K, Attributes>();
  private used = new Set<K>();

  beginRound(): void {
    this.used = new Set();
  }

  get(key: K, build: () => Attributes): Attributes {
    this.used.add(key);
    let attributes = this.cache.get(key);
    if (attributes === undefined) {
      attributes = Object.freeze(build());
      this.cache.set(key, attributes);
    }
    return attributes;
  }

  endRound(): void {
    if (this.cache.size <= 2 * this.used.size + 64) return;
    for (const key of this.cache.keys()) if (!this.used.has(key)) this.cache.delete(key);
  }

  get size(): number {
    return this.cache.size;
  }
}
