/** A SnapshotSource over a procfs (usually a fixture tree) watching the host namespace, as the tests build it. */
import { SnapshotSource, type SnapshotSourceOptions } from '../../src/collection/snapshot.js';
import { createLogger } from '../../src/log.js';
import type { ProcFs } from '../../src/procfs/procfs.js';

export interface TestSourceOptions {
  /** Configured ports; none means discovery mode. */
  readonly ports?: readonly number[];
  readonly discoveryLimit?: number;
  readonly collectionTimeoutMs?: number;
  /** Owner lookup, off unless a test is about owners. */
  readonly owners?: boolean;
  readonly logger?: SnapshotSourceOptions['logger'];
}

export function hostSnapshotSource(procfs: ProcFs, options: TestSourceOptions = {}): SnapshotSource {
  return new SnapshotSource({
    procfs,
    hostNetDirectory: procfs.netDirectory(1),
    config: {
      ports: (options.ports ?? []).map((port) => ({ port })),
      discoveryLimit: options.discoveryLimit ?? 100,
      collectionTimeoutMs: options.collectionTimeoutMs ?? 5000,
      owners: options.owners ?? false,
      netns: 'host',
    },
    logger: options.logger ?? createLogger('none'),
  });
}
