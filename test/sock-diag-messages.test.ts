/**
 * The netlink sock_diag messages (src/sockdiag/messages.ts): the parser on dumps captured from a
 * real kernel (test/fixtures/capture-sock-diag.py) and on broken variants made from them, the
 * request, and the bytecode filter against a port of the kernel's own checker and interpreter.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { failureOf } from '../src/procfs/errors.js';
import { parseNetUdp, type IpFamily, type UdpSocket } from '../src/procfs/net-udp.js';
import { encodeDumpRequest, parseSockDiagDump, portFilterBytecode, type PortRange } from '../src/sockdiag/messages.js';
import { auditBytecode, runBytecode } from './support/inet-diag-bytecode.js';
import { FIXTURES } from './support/paths.js';

const CAPTURED = path.join(FIXTURES, 'sock-diag');
/** The capture's request carried this sequence number (SOCKETS says so). */
const SEQUENCE = 4242;
const datagrams = (name: 'udp' | 'udp6'): Uint8Array[] =>
  readFileSync(path.join(CAPTURED, `${name}.hex`), 'latin1')
    .trim()
    .split('\n')
    .map((line) => Buffer.from(line, 'hex'));
/** The stalled listener (SOCKETS): it asked for a 4096-byte receive buffer, and the kernel doubles that. */
const STALLED_PORT = 6985;

function parse(family: IpFamily, captured: Uint8Array[], include?: (port: number, state: number) => boolean): UdpSocket[] {
  return parseSockDiagDump(captured, { file: 'netlink:test', family, sequence: SEQUENCE, byteOrder: 'LE', ...(include ? { include } : {}) });
}

const byInode = (a: UdpSocket, b: UdpSocket): number => a.inode - b.inode;

describe('the sock_diag parser on dumps captured from a real kernel', () => {
  for (const [name, family] of [
    ['udp', 'ipv4'],
    ['udp6', 'ipv6'],
  ] as const) {
    it(`${name}: every socket equals the procfs line of the same moment, plus its receive buffer`, () => {
      const fromNetlink = parse(family, datagrams(name)).sort(byInode);
      const fromProcfs = parseNetUdp(readFileSync(path.join(CAPTURED, `procfs-${name}`)), { file: `procfs-${name}`, family, byteOrder: 'LE' }).sort(byInode);
      assert.ok(fromNetlink.length >= 5, `only ${fromNetlink.length} sockets`);
      assert.deepEqual(
        fromNetlink.map(({ receiveBufferBytes: _, ...socket }) => socket),
        fromProcfs,
      );
      // Every other socket has the default, net.core.rmem_default (212992 on this kernel).
      for (const socket of fromNetlink) assert.equal(socket.receiveBufferBytes, socket.localPort === STALLED_PORT ? 8192 : 212992, `port ${socket.localPort}`);
    });
  }

  it('sees what the capture set up: a full queue with drops, connected sockets, IPv6 shapes', () => {
    const ipv4 = parse('ipv4', datagrams('udp'));
    const stalled = ipv4.find((s) => s.localPort === STALLED_PORT)!;
    assert.ok(stalled.drops > 0 && stalled.rxQueueBytes > 0);
    assert.ok(ipv4.some((s) => s.state === 0x01 && s.remotePort === 6984 && s.remoteAddress === '127.0.0.1'));
    const ipv6 = parse('ipv6', datagrams('udp6')).map((s) => `${s.localAddress} ${s.localPort}`);
    for (const expected of [':: 5140', ':: 8125', '::1 2055', '::ffff:127.0.0.1 1514']) assert.ok(ipv6.includes(expected), expected);
  });

  it('hands only wanted sockets to the caller, by exact port and state', () => {
    const wanted = parse('ipv4', datagrams('udp'), (port, state) => state === 0x07 && (port === 9000 || port === 90));
    assert.deepEqual(
      wanted.map((s) => s.localPort),
      [9000, 9000],
    );
  });
});

/** A copy of the captured IPv4 dump with one change made by `edit`. */
function broken(edit: (first: Buffer, all: Buffer[]) => Buffer[] | void): Buffer[] {
  const all = datagrams('udp').map((d) => Buffer.from(d));
  return edit(all[0]!, all) ?? all;
}

/** Offset of the first socket's INET_DIAG_SKMEMINFO attribute (type 7) in the first datagram. */
function meminfoOffset(first: Buffer): number {
  const end = first.readUInt32LE(0);
  for (let at = 16 + 72; at < end; at += (first.readUInt16LE(at) + 3) & ~3) if (first.readUInt16LE(at + 2) === 7) return at;
  throw new Error('no meminfo in the capture');
}

/** An NLMSG_ERROR or NLMSG_DONE message carrying `status`. */
function statusMessage(type: number, status: number, flags = 0): Buffer {
  const message = Buffer.alloc(type === 2 ? 36 : 20);
  message.writeUInt32LE(message.length, 0);
  message.writeUInt16LE(type, 4);
  message.writeUInt16LE(flags, 6);
  message.writeUInt32LE(SEQUENCE, 8);
  message.writeInt32LE(status, 16);
  return message;
}

describe('the sock_diag parser on broken variants of the capture', () => {
  const cases: { name: string; datagrams: Buffer[]; failure: string; message: RegExp; family?: IpFamily }[] = [
    { name: 'a datagram cut mid-message', datagrams: broken((first, all) => [first.subarray(0, first.length - 10), ...all.slice(1)]), failure: 'malformed', message: /nlmsg_len of message \d+/ },
    { name: 'a datagram cut inside a header', datagrams: broken((first, all) => [first.subarray(0, 8), ...all.slice(1)]), failure: 'malformed', message: /nlmsghdr of message 1 .*8 bytes left/ },
    { name: 'a message longer than its datagram', datagrams: broken((first) => void first.writeUInt32LE(first.length + 4, 0)), failure: 'malformed', message: /nlmsg_len of message 1/ },
    { name: 'a message shorter than its header', datagrams: broken((first) => void first.writeUInt32LE(12, 0)), failure: 'malformed', message: /nlmsg_len of message 1 .*got "12"/ },
    { name: 'a reply to another request', datagrams: broken((first) => void first.writeUInt32LE(SEQUENCE + 1, 8)), failure: 'malformed', message: /nlmsg_seq .*another request/ },
    { name: 'a message of an unknown type', datagrams: broken((first) => void first.writeUInt16LE(99, 4)), failure: 'malformed', message: /nlmsg_type .*got "99"/ },
    { name: 'a dump without NLMSG_DONE', datagrams: broken((_, all) => all.slice(0, -1)), failure: 'malformed', message: /without NLMSG_DONE: it was cut short/ },
    { name: 'data after NLMSG_DONE', datagrams: broken((_, all) => [...all, all[0]!]), failure: 'malformed', message: /after the end of the dump/ },
    { name: 'a socket message too short for inet_diag_msg', datagrams: broken((first, all) => [Buffer.from(first.subarray(0, 16 + 40)).fill(0x38, 0, 1), ...all.slice(1)]), failure: 'malformed', message: /inet_diag_msg .*40-byte payload/ },
    { name: 'a socket without memory counters', datagrams: broken((first) => void first.writeUInt16LE(1, meminfoOffset(first) + 2)), failure: 'malformed', message: /INET_DIAG_SKMEMINFO .*missing/ },
    { name: 'memory counters without the drops', datagrams: broken((first) => void first.writeUInt16LE(4 + 8 * 4, meminfoOffset(first))), failure: 'malformed', message: /INET_DIAG_SKMEMINFO .*8 counters/ },
    { name: 'an attribute longer than its message', datagrams: broken((first) => void first.writeUInt16LE(0xfff0, meminfoOffset(first))), failure: 'malformed', message: /rta_len of message 1/ },
    { name: 'sockets of the other family', datagrams: broken(() => undefined), family: 'ipv6', failure: 'malformed', message: /idiag_family .*got "2"/ },
    { name: 'NLMSG_ERROR EINVAL (bytecode refused)', datagrams: [statusMessage(2, -22)], failure: 'other', message: /NLMSG_ERROR: EINVAL/ },
    { name: 'NLMSG_ERROR EPERM', datagrams: [statusMessage(2, -1)], failure: 'EPERM', message: /NLMSG_ERROR: EPERM/ },
    { name: 'NLMSG_DONE carrying ENOBUFS (the dump failed half way)', datagrams: broken((_, all) => [...all.slice(0, -1), statusMessage(3, -105, 2)]), failure: 'other', message: /NLMSG_DONE: ENOBUFS/ },
    { name: 'an acknowledgement inside a dump', datagrams: [statusMessage(2, 0)], failure: 'malformed', message: /acknowledgement nobody asked for/ },
    { name: 'a dump the kernel marks interrupted', datagrams: broken((first) => void first.writeUInt16LE(first.readUInt16LE(6) | 0x10, 6)), failure: 'other', message: /NLM_F_DUMP_INTR/ },
  ];
  for (const { name, datagrams: input, failure, message, family } of cases) {
    it(`${name}: ${failure}, never a value`, () => {
      assert.throws(
        () => parse(family ?? 'ipv4', input),
        (error: unknown) => {
          assert.equal(failureOf(error), failure, String(error));
          assert.match((error as Error).message, /^netlink:test: /);
          assert.match((error as Error).message, message);
          return true;
        },
      );
    });
  }
});

describe('the dump request', () => {
  it('is nlmsghdr + inet_diag_req_v2 for UDP, UNCONN only, memory counters asked for', () => {
    const request = Buffer.from(encodeDumpRequest({ family: 'ipv6', sequence: 7, byteOrder: 'LE' }));
    // len 72, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST|NLM_F_DUMP, seq 7, pid 0; AF_INET6, UDP, 1<<(SKMEMINFO-1), states 1<<TCP_CLOSE.
    assert.equal(request.toString('hex'), `48000000140001030700000000000000${'0a114000'}${'80000000'}${'00'.repeat(48)}`);
  });

  it('carries the bytecode as an INET_DIAG_REQ_BYTECODE attribute, padded, and counts it in the length', () => {
    const bytecode = portFilterBytecode([[514, 514]], 'LE')!;
    const request = Buffer.from(encodeDumpRequest({ family: 'ipv4', sequence: 1, byteOrder: 'LE', bytecode }));
    assert.equal(request.readUInt32LE(0), request.length);
    assert.equal(request.readUInt16LE(72), 4 + bytecode.length);
    assert.equal(request.readUInt16LE(74), 1);
    assert.deepEqual(request.subarray(76, 76 + bytecode.length), Buffer.from(bytecode));
  });
});

describe('the port filter bytecode', () => {
  it('passes the kernel checker and accepts exactly the ports of its ranges, for any set of ranges', () => {
    const range = fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 300 })).map(([low, span]): PortRange => [low, Math.min(65535, low + span)]);
    fc.assert(
      fc.property(fc.array(range, { minLength: 1, maxLength: 200 }), fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 50 }), (ranges, probes) => {
        const bytecode = portFilterBytecode(ranges, 'LE')!;
        assert.ok(auditBytecode(bytecode), 'the kernel would refuse it');
        const edges = ranges.flatMap(([low, high]) => [low - 1, low, high, high + 1]).filter((p) => p >= 0 && p <= 65535);
        for (const port of [...probes, ...edges]) {
          assert.equal(runBytecode(bytecode, port), ranges.some(([low, high]) => port >= low && port <= high), `port ${port}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('costs a socket a logarithmic number of comparisons, and joins adjacent ports into one range', () => {
    const ports = Array.from({ length: 100 }, (_, i): PortRange => [10000 + 3 * i, 10000 + 3 * i]);
    const single = portFilterBytecode(ports, 'LE')!;
    const joined = portFilterBytecode(Array.from({ length: 100 }, (_, i): PortRange => [10000 + i, 10000 + i]), 'LE')!;
    assert.equal(joined.length, 20, 'one range: two comparisons and a jump');
    assert.equal(single.length, 100 * 20 + 99 * 8);
  });

  it('past 128 ranges joins the closest ones: every wanted port still passes, few others do, and it stays small', () => {
    const wanted = [...Array.from({ length: 4096 }, (_, i) => 4 * i), 30001, 30002, 65535];
    const bytecode = portFilterBytecode(
      wanted.map((p): PortRange => [p, p]),
      'LE',
    )!;
    assert.ok(auditBytecode(bytecode));
    assert.ok(bytecode.length <= 128 * 20 + 127 * 8, `${bytecode.length} bytes`);
    for (const port of wanted) assert.ok(runBytecode(bytecode, port), `port ${port} is wanted`);
    // Ports between wanted ones 4 apart are let through; the wide empty stretches are not.
    for (const port of [20000, 30000, 30003, 65534]) assert.equal(runBytecode(bytecode, port), false, `port ${port}`);
  });

  it('is left out (user-space filtering alone) when there is nothing to filter by', () => {
    assert.equal(portFilterBytecode([], 'LE'), undefined);
  });
});
