/**
 * Makes a series disappear when its callback stops observing it.
 *
 * @opentelemetry/sdk-metrics keeps, for every observable instrument, every attribute set it has
 * ever been given, and exports each one forever with its last value (opentelemetry-js issue
 * 4096; the specification says it SHOULD NOT). For this exporter that would be wrong twice: a
 * discovered listener that closed would keep reading 1, and an owner's old pid would stay on
 * the page after a restart. It also never frees the memory, and once 2000 attribute sets have
 * been seen the cardinality limit folds every new one into an overflow series.
 *
 * No public API removes an attribute set, so this module reaches into the SDK's storage of the
 * exporter's own instruments, right before each collection records its observations, and
 * keeps only what that collection observed. The storage layout is checked when the pruner is
 * built (at start-up): an SDK upgrade that changes it stops the service with a clear message
 * instead of bringing stale series back silently. The layout is the same in sdk-metrics 2.12
 * and 3.1; test/stale-series.test.ts pins the behaviour.
 */
import type { Attributes, Observable } from '@opentelemetry/api';

/** sdk-metrics' AttributeHashMap: entries() yields [attributes, value, hash]. */
interface SdkAttributeMap {
  entries(): IterableIterator<[Attributes, unknown, string]>;
  set(key: Attributes, value: unknown, hash: string): void;
  readonly size: number;
}

/** The parts of sdk-metrics' AsyncMetricStorage that hold attribute sets between collections. */
interface SdkAsyncStorage {
  _deltaMetricStorage: {
    _activeCollectionStorage: SdkAttributeMap;
    _cumulativeMemoStorage: SdkAttributeMap;
  };
  _temporalMetricStorage: {
    _unreportedAccumulations: Map<unknown, SdkAttributeMap[]>;
    _reportHistory: Map<unknown, { accumulations: SdkAttributeMap }>;
  };
}

export class UnsupportedSdkError extends Error {
  override readonly name = 'UnsupportedSdkError';
}

export class StaleSeriesPruner {
  private readonly storages = new Map<Observable, SdkAsyncStorage[]>();

  /** Throws UnsupportedSdkError when the SDK does not store observations the way this expects. */
  constructor(instruments: Iterable<Observable>) {
    for (const instrument of instruments) this.storages.set(instrument, storagesOf(instrument));
  }

  /**
   * Removes from each instrument's storage the attribute sets not in `observed`; an instrument
   * missing from `observed` loses all of them. Returns how many sets were removed.
   */
  retainOnly(observed: ReadonlyMap<Observable, Iterable<Attributes>>): number {
    let removed = 0;
    for (const [instrument, storages] of this.storages) {
      const keep = new Set<string>();
      for (const attributes of observed.get(instrument) ?? []) keep.add(attributesKey(attributes));
      for (const storage of storages) removed += pruneStorage(storage, keep);
    }
    return removed;
  }
}

function storagesOf(instrument: Observable): SdkAsyncStorage[] {
  const storages = (instrument as { _metricStorages?: unknown })._metricStorages;
  if (!Array.isArray(storages) || storages.length === 0 || !storages.every(isAsyncStorage)) {
    throw new UnsupportedSdkError(
      'this version of @opentelemetry/sdk-metrics stores observable instruments differently from 2.12/3.1; ' +
        'stale series could not be removed (see src/telemetry/stale-series.ts)',
    );
  }
  return storages;
}

function isAttributeMap(value: unknown): value is SdkAttributeMap {
  const map = value as SdkAttributeMap | undefined;
  return typeof map?.entries === 'function' && typeof map.set === 'function' && typeof map.size === 'number';
}

function isAsyncStorage(value: unknown): value is SdkAsyncStorage {
  const storage = value as Partial<SdkAsyncStorage> | undefined;
  const delta = storage?._deltaMetricStorage;
  const temporal = storage?._temporalMetricStorage;
  return (
    isAttributeMap(delta?._activeCollectionStorage) &&
    isAttributeMap(delta?._cumulativeMemoStorage) &&
    temporal?._unreportedAccumulations instanceof Map &&
    temporal._reportHistory instanceof Map
  );
}

function pruneStorage(storage: SdkAsyncStorage, keep: ReadonlySet<string>): number {
  const delta = storage._deltaMetricStorage;
  const temporal = storage._temporalMetricStorage;
  let removed = 0;
  const prune = (map: SdkAttributeMap): SdkAttributeMap => {
    const stale = countStale(map, keep);
    if (stale === 0) return map;
    removed += stale;
    return filtered(map, keep);
  };
  delta._cumulativeMemoStorage = prune(delta._cumulativeMemoStorage);
  delta._activeCollectionStorage = prune(delta._activeCollectionStorage);
  for (const [collector, pending] of temporal._unreportedAccumulations) {
    temporal._unreportedAccumulations.set(collector, pending.map(prune));
  }
  for (const report of temporal._reportHistory.values()) {
    report.accumulations = prune(report.accumulations);
  }
  return removed;
}

function countStale(map: SdkAttributeMap, keep: ReadonlySet<string>): number {
  let stale = 0;
  for (const [attributes] of map.entries()) {
    if (!keep.has(attributesKey(attributes))) stale++;
  }
  return stale;
}

/** A new map of the same class holding only the kept entries (the SDK's maps cannot delete). */
function filtered(map: SdkAttributeMap, keep: ReadonlySet<string>): SdkAttributeMap {
  const copy = new (map.constructor as new () => SdkAttributeMap)();
  for (const [attributes, value, hash] of map.entries()) {
    if (keep.has(attributesKey(attributes))) copy.set(attributes, value, hash);
  }
  return copy;
}

const keyCache = new WeakMap<Attributes, string>();

/** Identity of an attribute set regardless of key order, cached per attributes object. */
export function attributesKey(attributes: Attributes): string {
  let key = keyCache.get(attributes);
  if (key === undefined) {
    key = JSON.stringify(
      Object.keys(attributes)
        .sort()
        .map((name) => [name, attributes[name]]),
    );
    keyCache.set(attributes, key);
  }
  return key;
}
