/**
 * OwnerResolver on its own, against a fixture procfs tree: the fd walk runs once and is then
 * cached, each collection only re-reads the links of the holders it reports, a changed holder
 * or a new socket triggers exactly one new walk, a process that vanishes mid-walk is normal, and
 * a collection past its deadline answers at once and counts the socket as unresolved.
 *
 * Fd entries are symbolic links whose target is the text `socket:[INODE]`, as in /proc.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import { OwnerResolver, type OwnerLookup } from '../src/collection/owners.js';
import { ProcReadError } from '../src/procfs/errors.js';
import { ProcFs, type ReadOptions } from '../src/procfs/procfs.js';
import { procTree, type TreeChange } from './support/proc-tree.js';

const trees: { remove(): void }[] = [];
after(() => trees.forEach((tree) => tree.remove()));

/** No rescan by age during a test: every walk seen here is one the resolver chose to start. */
const NEVER_RESCAN = 1e9;

/** Counts the calls the resolver makes, and lets a test hook into them. */
class CountingProcFs extends ProcFs {
  pidsCalls = 0;
  listCalls = 0;
  linkCalls = 0;
  readCalls = 0;
  /** Runs before the pid list is read; may hold it up. */
  beforePids: () => Promise<void> = async () => undefined;
  /** Runs before a directory is listed, with that directory. */
  beforeList: (directory: string) => void = () => undefined;
  /** Replaces a listing with a failure, by directory. */
  failList = new Map<string, ProcReadError>();

  override async pids(): Promise<number[]> {
    this.pidsCalls++;
    await this.beforePids();
    return super.pids();
  }

  override async list(directory: string): Promise<string[]> {
    this.listCalls++;
    this.beforeList(directory);
    const failure = this.failList.get(directory);
    if (failure !== undefined) throw failure;
    return super.list(directory);
  }

  override async link(file: string): Promise<string> {
    this.linkCalls++;
    return super.link(file);
  }

  override async read(file: string, options: ReadOptions): Promise<Buffer> {
    this.readCalls++;
    return super.read(file, options);
  }

  resetCounts(): void {
    this.pidsCalls = this.listCalls = this.linkCalls = this.readCalls = 0;
  }
}

function setup(changes: Record<string, TreeChange>) {
  const tree = procTree(changes);
  trees.push(tree);
  const procfs = new CountingProcFs(tree.root);
  const resolver = new OwnerResolver(procfs, { rescanIntervalMs: NEVER_RESCAN });
  return { tree, procfs, resolver };
}

function soon(): number {
  return performance.now() + 10_000;
}

/** inode -> ["pid comm", ...], sorted, for whole-answer comparisons. */
function ownersOf(lookup: OwnerLookup): Record<number, string[]> {
  const result: Record<number, string[]> = {};
  for (const [inode, owners] of lookup.owners) result[inode] = owners.map((o) => `${o.pid} ${o.executableName}`).sort();
  return result;
}

// Pid 1 of the captured tree has comm and net/ but no fd directory: every walk meets an ENOENT.
const BASE: Record<string, TreeChange> = {
  '100/fd/0': { link: '/dev/null' },
  '100/fd/3': { link: 'socket:[5047]' },
  '100/comm': 'filebeat\n',
  '200/fd/7': { link: 'socket:[5054]' },
  '200/comm': 'vector\n',
};

describe('OwnerResolver', () => {
  it('walks once, then answers from its cache with one readlink per holder and no new walk', async () => {
    const { tree, procfs, resolver } = setup(BASE);
    const inodes = new Set([5047, 5054]);

    const first = await resolver.resolve(inodes, soon());
    assert.equal(resolver.walks, 1);
    assert.deepEqual(ownersOf(first), { 5047: ['100 filebeat'], 5054: ['200 vector'] });
    assert.equal(first.unresolvedSockets, 0);
    assert.equal(first.unreadableProcesses, 0);
    assert.equal(procfs.pidsCalls, 1);

    // A process that started holding 5054 after the walk is not seen: proof the cache answered.
    tree.change({ '201/fd/9': { link: 'socket:[5054]' }, '201/comm': 'vector\n' });
    procfs.resetCounts();
    const second = await resolver.resolve(inodes, soon());
    assert.equal(resolver.walks, 1, 'a second resolve of the same inodes walked again');
    assert.deepEqual(ownersOf(second), { 5047: ['100 filebeat'], 5054: ['200 vector'] });
    assert.equal(second.unresolvedSockets, 0);
    // Revalidation is cheap: one readlink per known holder and one comm read per pid, no listing.
    assert.deepEqual(
      { pids: procfs.pidsCalls, list: procfs.listCalls, link: procfs.linkCalls, read: procfs.readCalls },
      { pids: 0, list: 0, link: 2, read: 2 },
    );
  });

  it('drops a holder whose fd link changed and walks again for that inode, once', async () => {
    const { tree, resolver } = setup(BASE);
    const inodes = new Set([5047, 5054]);
    await resolver.resolve(inodes, soon());
    assert.equal(resolver.walks, 1);

    // Pid 100's fd 3 now points elsewhere (the socket was closed and the number reused).
    tree.change({ '100/fd/3': { link: 'pipe:[777]' } });
    const changed = await resolver.resolve(inodes, soon());
    assert.equal(resolver.walks, 2, 'a changed holder did not trigger a walk');
    assert.deepEqual(ownersOf(changed), { 5054: ['200 vector'] });
    assert.equal(changed.unresolvedSockets, 1);

    // Nobody holds 5047 and the last walk looked for it: no walk on every collection.
    const again = await resolver.resolve(inodes, soon());
    assert.equal(resolver.walks, 2, 'a socket without holder made every collection walk');
    assert.equal(again.unresolvedSockets, 1);
  });

  it('drops a holder whose fd link was removed and finds the process the socket passed to', async () => {
    const { tree, resolver } = setup(BASE);
    const inodes = new Set([5047, 5054]);
    await resolver.resolve(inodes, soon());

    // A hand-over, as systemd socket activation does on a restart: 100 exits, 101 holds 5047.
    tree.change({ '100': null, '101/fd/4': { link: 'socket:[5047]' }, '101/comm': 'filebeat\n' });
    const handedOver = await resolver.resolve(inodes, soon());
    assert.equal(resolver.walks, 2);
    assert.deepEqual(ownersOf(handedOver), { 5047: ['101 filebeat'], 5054: ['200 vector'] });
    assert.equal(handedOver.unresolvedSockets, 0);
  });

  it('walks once for an inode the last walk did not look for', async () => {
    const { tree, resolver } = setup(BASE);
    await resolver.resolve(new Set([5047, 5054]), soon());
    assert.equal(resolver.walks, 1);

    tree.change({ '300/fd/5': { link: 'socket:[5048]' }, '300/comm': 'rsyslogd\n' });
    const inodes = new Set([5047, 5054, 5048]);
    const grown = await resolver.resolve(inodes, soon());
    assert.equal(resolver.walks, 2, 'a new inode did not trigger a walk');
    assert.deepEqual(ownersOf(grown), { 5047: ['100 filebeat'], 5048: ['300 rsyslogd'], 5054: ['200 vector'] });

    await resolver.resolve(inodes, soon());
    assert.equal(resolver.walks, 2, 'an inode already found made a collection walk');

    // A new inode nobody holds: one walk looks for it, and later collections do not.
    const withOrphan = new Set([...inodes, 5053]);
    const orphan = await resolver.resolve(withOrphan, soon());
    assert.equal(resolver.walks, 3);
    assert.equal(orphan.unresolvedSockets, 1);
    await resolver.resolve(withOrphan, soon());
    assert.equal(resolver.walks, 3);
  });

  it('takes a process that vanishes mid-walk (ENOENT) as normal, and counts only EACCES/EPERM as unreadable', async () => {
    const { procfs, resolver } = setup({
      ...BASE,
      // A pid directory without fd (exited, or a kernel thread), and a holder without comm.
      '400/comm': 'gone\n',
      '500/fd/3': { link: 'socket:[5053]' },
      '600/fd/2': { link: 'socket:[5048]' },
      '600/comm': 'vanishing\n',
    });
    // Pid 600 was in the pid list, then exits before its fd directory is read.
    procfs.beforeList = (directory) => {
      if (directory === procfs.path('600', 'fd')) rmSync(procfs.path('600'), { recursive: true, force: true });
    };
    const inodes = new Set([5047, 5054, 5053, 5048]);
    const lookup = await resolver.resolve(inodes, soon());
    assert.equal(resolver.walks, 1);
    assert.deepEqual(ownersOf(lookup), { 5047: ['100 filebeat'], 5054: ['200 vector'] });
    // 5053's holder has no comm (it exited after its fd was seen); 5048's holder exited mid-walk.
    assert.equal(lookup.unresolvedSockets, 2);
    assert.equal(lookup.unreadableProcesses, 0, 'an exited process was counted as unreadable');

    // The contrast, so the zero above means something: a denied fd directory is counted.
    const denied = setup(BASE);
    const fd200 = denied.procfs.path('200', 'fd');
    denied.procfs.failList.set(fd200, new ProcReadError(fd200, 'EACCES', 'permission denied'));
    const deniedLookup = await denied.resolver.resolve(new Set([5047, 5054]), soon());
    assert.equal(deniedLookup.unreadableProcesses, 1);
    assert.deepEqual(ownersOf(deniedLookup), { 5047: ['100 filebeat'] });
    assert.equal(deniedLookup.unresolvedSockets, 1);
  });

  it('answers at once past its deadline, counting the socket unresolved; the walk finishes in the background', { timeout: 10_000 }, async () => {
    const { procfs, resolver } = setup(BASE);
    // The walk cannot get past listing the pids until the test says so: if resolve waited for
    // it, this test would time out.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    procfs.beforePids = () => gate;

    const inodes = new Set([5047, 5054]);
    const started = performance.now();
    const late = await resolver.resolve(inodes, performance.now() - 1);
    assert.ok(performance.now() - started < 1000, `resolve took ${Math.round(performance.now() - started)} ms past its deadline`);
    assert.equal(late.unresolvedSockets, 2);
    assert.equal(late.owners.size, 0);
    assert.equal(resolver.walks, 0);
    assert.equal(procfs.pidsCalls, 1);

    // The next collection joins the walk still under way rather than starting another.
    release();
    const next = await resolver.resolve(inodes, soon());
    assert.equal(procfs.pidsCalls, 1, 'a second walk was started on top of the first');
    assert.equal(resolver.walks, 1);
    assert.deepEqual(ownersOf(next), { 5047: ['100 filebeat'], 5054: ['200 vector'] });
    assert.equal(next.unresolvedSockets, 0);
  });
});
