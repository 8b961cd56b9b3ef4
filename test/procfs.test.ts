/**
 * ProcFs reads files on the live procfs with synchronous read() calls in slices, and files
 * anywhere else through the thread pool. The fixture trees of the other tests cover the
 * second path; these cover the first, against the real kernel.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { parseNetUdp } from '../src/procfs/net-udp.js';
import { ProcFs } from '../src/procfs/procfs.js';

const OPTIONS = { deadlineMs: 5000 };

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

  it('reads a socket table whole, across many pages', async () => {
    const file = procfs.path('self', 'net', 'udp');
    for (let read = 0; read < 2; read++) {
      const table = parseNetUdp(await procfs.read(file, OPTIONS), { file, family: 'ipv4', byteOrder: endianness() });
      const ports = new Set(table.map((socket) => socket.localPort));
      for (const socket of sockets) assert.ok(ports.has(socket.address().port), `port ${socket.address().port} missing from read ${read + 1}`);
    }
  });

  it('grows its buffer for a file larger than any seen before', { skip: !existsSync('/proc/kallsyms') && 'no /proc/kallsyms' }, async () => {
    // Megabytes on any kernel, and stable while the test runs.
    const bytes = await new ProcFs('/proc').read('/proc/kallsyms', OPTIONS);
    assert.ok(bytes.length > 256 * 1024, `only ${bytes.length} bytes`);
    assert.equal(bytes.length, readFileSync('/proc/kallsyms').length);
  });

  it('still reports a missing file as ENOENT', async () => {
    await assert.rejects(procfs.read(procfs.path('self', 'net', 'no-such-table'), OPTIONS), { failure: 'ENOENT' });
  });

  it('gives up on a read that outlives its deadline', { skip: !existsSync('/proc/kallsyms') && 'no /proc/kallsyms' }, async () => {
    // The deadline is checked between slices of about 5 ms; printing kallsyms takes far longer.
    const procfsWithSize = new ProcFs('/proc');
    await procfsWithSize.read('/proc/kallsyms', OPTIONS);
    await assert.rejects(procfsWithSize.read('/proc/kallsyms', { deadlineMs: 0 }), { failure: 'timeout' });
  });
});
