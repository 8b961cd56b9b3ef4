/**
 * The kernel writes /proc/net/udp a page per read(2) and finds its place again by counting
 * entries, so sockets closing elsewhere during the read can make it skip a live listener. A
 * listener the last collection saw and this read misses is confirmed by reading again.
 * (Real churn is exercised by `npm run load` and its smoke run in test/load-smoke.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import type { Snapshot } from '../src/collection/snapshot.js';
import { ProcFs, type ChunkConsumer, type ReadOptions } from '../src/procfs/procfs.js';
import { FIXTURES } from './support/paths.js';
import { procTree } from './support/proc-tree.js';
import { hostSnapshotSource } from './support/snapshot-source.js';

const udp4 = readFileSync(`${FIXTURES}procfs/real/1/net/udp`, 'latin1');
/** The real table with the listener on 127.0.0.1:514 (hex 0202) left out, as a skipping read gives it. */
const skipping514 = udp4
  .split('\n')
  .filter((line) => !line.includes('0100007F:0202 '))
  .join('\n');

/**
 * A ProcFs whose reads of net/udp return the given texts in turn, then the real file, in chunks
 * of 100 bytes as a stream hands them over.
 */
class ScriptedProcFs extends ProcFs {
  readonly udpReads: string[] = [];
  constructor(
    root: string,
    private readonly script: string[],
  ) {
    super(root);
  }
  override async stream(file: string, options: ReadOptions, consume: ChunkConsumer): Promise<void> {
    if (!file.endsWith('/net/udp')) return super.stream(file, options, consume);
    const text = this.script.shift() ?? udp4;
    this.udpReads.push(text);
    const bytes = Buffer.from(text, 'latin1');
    for (let at = 0; at < bytes.length; at += 100) consume(bytes.subarray(at, at + 100));
  }
}

const trees: { remove(): void }[] = [];
after(() => trees.forEach((tree) => tree.remove()));

/** The host namespace's listeners (UDP_LISTENER_NETNS=host reads only that one). */
function hostListeners(snapshot: Snapshot) {
  return snapshot.namespaces[0]?.listeners;
}

function source(ports: number[], script: string[]) {
  const tree = procTree();
  trees.push(tree);
  const procfs = new ScriptedProcFs(tree.root, script);
  const snapshots = hostSnapshotSource(procfs, { ports });
  return { procfs, snapshots };
}

describe('a listener skipped by one read of a shifting socket table', () => {
  it('configured mode: is confirmed by a second read and reported up, from the first collection on', async () => {
    const { procfs, snapshots } = source([514, 6984], [skipping514]);
    const snapshot = await snapshots.take();
    assert.equal(hostListeners(snapshot)?.get(514)?.sockets, 1);
    assert.equal(procfs.udpReads.length, 2);
    assert.equal(snapshots.collections, 1, 'still one collection');
  });

  it('discovery mode: a listener seen last time and skipped now is read again and kept', async () => {
    const { procfs, snapshots } = source([], [udp4, skipping514]);
    assert.ok(hostListeners(await snapshots.take())?.has(514));
    assert.ok(hostListeners(await snapshots.take())?.has(514));
    assert.equal(procfs.udpReads.length, 3);
  });

  it('a listener that really closed is reported down after at most two confirming reads, and costs nothing after', async () => {
    const { procfs, snapshots } = source([514], [udp4, skipping514, skipping514, skipping514, skipping514]);
    assert.equal(hostListeners(await snapshots.take())?.get(514)?.sockets, 1);
    assert.equal(hostListeners(await snapshots.take())?.has(514), false);
    assert.equal(procfs.udpReads.length, 4, 'one read plus two confirmations');
    assert.equal(hostListeners(await snapshots.take())?.has(514), false);
    assert.equal(procfs.udpReads.length, 5, 'no confirmation once it is known to be gone');
  });

  it('a kernel-owned socket (inode 0, as WireGuard and VXLAN hold) counts once although the confirming reads see it again', async () => {
    // Sockets without an inode cannot be matched across reads by it. Counted once per read, one
    // such socket read as three while another port was being confirmed, and its drops tripled
    // for that one collection: a counter that then went backwards, and a check --window that
    // saw drops that never happened.
    const kernelSocket = ' 9999: 00000000:CA6C 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 0 2 0000000000000000 100        ';
    const withKernelSocket = (table: string): string => `${table.trimEnd()}\n${kernelSocket}\n`;
    const { procfs, snapshots } = source([514, 51820], [withKernelSocket(skipping514), withKernelSocket(skipping514), withKernelSocket(skipping514)]);
    const first = hostListeners(await snapshots.take())?.get(51820);
    assert.equal(procfs.udpReads.length, 3, 'one read plus two confirmations of 514');
    assert.deepEqual({ sockets: first?.sockets, drops: first?.drops }, { sockets: 1, drops: 100 });
  });

  it('takes the union: a socket any read saw counts once', async () => {
    const { snapshots } = source([9000, 514], [skipping514]);
    const snapshot = await snapshots.take();
    assert.equal(hostListeners(snapshot)?.get(9000)?.sockets, 2, 'sockets seen by both reads are not counted twice');
    assert.equal(hostListeners(snapshot)?.get(514)?.sockets, 1);
  });
});
