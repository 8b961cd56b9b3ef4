import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ProcFormatError } from '../src/procfs/errors.js';
import { parseIpLocalPortRange } from '../src/procfs/ip-local-port-range.js';
import { FIXTURES } from './support/paths.js';

describe('parseIpLocalPortRange', () => {
  it('reads the file captured from a real machine', () => {
    const text = readFileSync(`${FIXTURES}procfs/real/sys/net/ipv4/ip_local_port_range`, 'latin1');
    assert.deepEqual(parseIpLocalPortRange(text, 'f'), { low: 32768, high: 60999 });
  });

  for (const text of ['', '32768\n', '32768 60999 1\n', 'a b\n', '60999\t32768\n', '0\t100\n', '1024\t70000\n', '32768\t60999\n\n', '1024\t6553', '32768\n60999\n']) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseIpLocalPortRange(text, '/p/range'), (e: unknown) => e instanceof ProcFormatError && e.file === '/p/range');
    });
  }
});
