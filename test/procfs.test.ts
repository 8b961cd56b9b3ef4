/**
 * ProcFs reads files on the live procfs with synchronous read() calls in slices, and files
 * anywhere else through the thread pool. The fixture trees of the other tests cover the
 * second path; these cover the first, against the real kernel.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { endianness } from 'node:os';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parseNetUdp } from '../src/procfs/net-udp.js';
import { deadlineIn } from '../src/async.js';
import { ProcFormatError } from '../src/procfs/errors.js';
import { ProcFs } from '../src/procfs/procfs.js';

/** A fresh deadline 5 s ahead for each read. */
const OPTIONS = { get deadline(): number { return deadlineIn(5000); } };

/** Whether /proc/kallsyms exists; locally its absence skips the test, in CI (CI=true) it fails it. */
function requireKallsyms(t: TestContext): boolean {
  if (existsSync('/proc/kallsyms')) return true;
  if (process.env.CI === 'true') throw new Error('/proc/kallsyms is missing; CI must run these tests on a kernel that has it');
  t.skip('no /proc/kallsyms; skipped locally, required in CI');
  return false;
}

describe('ProcFs on the live procfs', () => {
  const procfs = new ProcFs('/proc');
  const sockets: Socket[] = [];

  before(async () => {
    // 300 sockets print about 38 KB: a few dozen kernel pages, each a read() of its own.
    for (let i = 0; i < 300; i++) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      sockets.push(socket);
    }
  });
  after(() => sockets.forEach((socket) => socket.close()));

  it('reads a socket table across many pages, whole lines only', async () => {
    // The table is read a page at a time, and other processes' sockets come and go between
    // reads: a socket can be skipped or printed twice (the kernel restarts from a position),
    // so a single read proves nothing about one socket. Lines are never torn, though: every
    // read must parse, and each of the test's sockets must turn up within a few reads.
    const file = procfs.path('self', 'net', 'udp');
    const seen = new Set<number>();
    for (let read = 0; read < 5; read++) {
      const table = parseNetUdp(await procfs.read(file, OPTIONS), { file, family: 'ipv4', byteOrder: endianness() });
      for (const socket of table) seen.add(socket.localPort);
    }
    for (const socket of sockets) assert.ok(seen.has(socket.address().port), `port ${socket.address().port} in none of 5 reads`);
  });

  it('grows its buffer for a file larger than any seen before', async (t) => {
    if (!requireKallsyms(t)) return;
    // Megabytes on any kernel, and stable while the test runs.
    const bytes = await new ProcFs('/proc').read('/proc/kallsyms', OPTIONS);
    assert.ok(bytes.length > 256 * 1024, `only ${bytes.length} bytes`);
    assert.equal(bytes.length, readFileSync('/proc/kallsyms').length);
  });

  it('streams a large file in chunks, in order, none larger than the chunk buffer, each valid during its call', async (t) => {
    if (!requireKallsyms(t)) return;
    const chunks: Buffer[] = [];
    let largest = 0;
    await new ProcFs('/proc').stream('/proc/kallsyms', OPTIONS, (chunk) => {
      largest = Math.max(largest, chunk.length);
      chunks.push(Buffer.from(chunk));
    });
    assert.ok(chunks.length > 1, `${chunks.length} chunk(s)`);
    assert.ok(largest <= 256 * 1024, `a chunk of ${largest} bytes`);
    assert.ok(Buffer.concat(chunks).equals(readFileSync('/proc/kallsyms')));
  });

  it('ends a read with the consumer\'s ProcFormatError, as it is (a malformed file, not a failed read)', async () => {
    const file = procfs.path('self', 'net', 'udp');
    const malformed = new ProcFormatError(file, 1, 'header', 'x', 'not the header');
    await assert.rejects(
      procfs.stream(file, OPTIONS, () => {
        throw malformed;
      }),
      (error) => error === malformed,
    );
  });

  it('still reports a missing file as ENOENT', async () => {
    await assert.rejects(procfs.read(procfs.path('self', 'net', 'no-such-table'), OPTIONS), { failure: 'ENOENT' });
  });

  it('gives up on a read that outlives its deadline', async (t) => {
    if (!requireKallsyms(t)) return;
    // The deadline is checked between slices of about 5 ms; printing kallsyms takes far longer.
    const procfsWithSize = new ProcFs('/proc');
    await procfsWithSize.read('/proc/kallsyms', OPTIONS);
    await assert.rejects(procfsWithSize.read('/proc/kallsyms', { deadline: deadlineIn(0) }), { failure: 'timeout' });
  });
});

describe('ProcFs links', () => {
  it('reads fd links on the live procfs: a socket fd reads socket:[INODE], a missing fd is ENOENT', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      const procfs = new ProcFs('/proc');
      const fds = await procfs.list(procfs.path('self', 'fd'));
      const targets = await Promise.all(fds.map((fd) => procfs.link(procfs.path('self', 'fd', fd)).catch(() => '')));
      assert.ok(targets.some((target) => /^socket:\[\d+\]$/.test(target)), JSON.stringify(targets));
      await assert.rejects(procfs.link(procfs.path('self', 'fd', '99999')), { failure: 'ENOENT' });
    } finally {
      socket.close();
    }
  });

  it('reads links below a root that is not procfs too (through the thread pool), with the same errors', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'procfs-links-'));
    try {
      symlinkSync('socket:[12345]', path.join(root, 'a-link'));
      const procfs = new ProcFs(root);
      assert.equal(await procfs.link(procfs.path('a-link')), 'socket:[12345]');
      await assert.rejects(procfs.link(procfs.path('missing')), { failure: 'ENOENT' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('lets the event loop turn during a long run of links on procfs, read synchronously', async () => {
    // Tens of thousands of readlink(2) calls take far longer than one 5 ms slice; a timer set
    // before them must fire before they end, as it would between the reads of a table.
    const procfs = new ProcFs('/proc');
    const file = procfs.path('self', 'fd', '0');
    await procfs.link(file);
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    const started = performance.now();
    let reads = 0;
    while (!turned && reads < 1_000_000) {
      await procfs.link(file);
      reads++;
    }
    assert.ok(turned, `the event loop did not turn during ${reads} links (${(performance.now() - started).toFixed(0)} ms)`);
  });
});
