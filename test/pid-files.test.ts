import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseCgroupHints } from '../src/procfs/pid-cgroup.js';
import { executableNameFromComm } from '../src/procfs/pid-comm.js';
import { netnsInodeOfLink, socketInodeOfLink } from '../src/procfs/pid-links.js';
import { FIXTURES } from './support/paths.js';

describe('executableNameFromComm', () => {
  const cases: [string, Uint8Array, string][] = [
    ['the captured comm of a real PID 1', readFileSync(`${FIXTURES}procfs/real/1/comm`), 'process_api'],
    ['a plain name', Buffer.from('filebeat\n'), 'filebeat'],
    ['no trailing newline', Buffer.from('vector'), 'vector'],
    ['only the last newline is the kernel\'s', Buffer.from('a\n\n'), 'a\\x0a'],
    ['control characters', Buffer.from('a\x01b\x7fc\td'), 'a\\x01b\\x7fc\\x09d'],
    ['a C1 control character', Buffer.from('a\u0085b'), 'a\\x85b'],
    ['invalid UTF-8', Buffer.from([0x61, 0xc3, 0x28, 0xff]), 'a\ufffd(\ufffd'],
    ['quotes, backslashes and braces are kept for the exposition to escape', Buffer.from('"\\{}\n'), '"\\{}'],
    ['an empty name', Buffer.from('\n'), ''],
  ];
  for (const [name, bytes, expected] of cases) it(name, () => assert.equal(executableNameFromComm(bytes), expected));

  it('caps a name far longer than the kernel allows', () => {
    assert.equal(executableNameFromComm(Buffer.alloc(1000, 0x01)).length <= 68, true);
  });
});

describe('parseCgroupHints', () => {
  const id = 'a'.repeat(56) + '0123abcd';
  const uid = '1d2c3b4a-0000-4e5f-8a9b-001122334455';
  const cases: [string, string, object][] = [
    ['the captured cgroup of a real process (no container)', readFileSync(`${FIXTURES}procfs/real/1/cgroup`, 'utf8'), {}],
    ['docker, cgroup v2', `0::/system.slice/docker-${id}.scope\n`, { containerId: id }],
    ['docker, cgroup v1', `12:pids:/docker/${id}\n11:memory:/docker/${id}\n`, { containerId: id }],
    ['kubelet with systemd slices', `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid.replace(/-/g, '_')}.slice/cri-containerd-${id}.scope\n`, { containerId: id, podUid: uid }],
    ['kubelet with cgroupfs, v1', `4:memory:/kubepods/burstable/pod${uid}/${id}\n`, { containerId: id, podUid: uid }],
    ['CRI-O', `0::/kubepods.slice/kubepods-pod${uid.replace(/-/g, '_')}.slice/crio-${id}.scope\n`, { containerId: id, podUid: uid }],
    ['a 32-digit id is not a container id', '4:memory:/process_api/e2cfcbd899a80c4748c054e179036c23\n', {}],
    // Found by the property in properties.test.ts: the uid was taken from the first 12 of 13 digits.
    ['a uid with 13 digits in its last group is not a uid', `4:memory:/kubepods/burstable/pod${uid}6/${id}\n`, { containerId: id }],
    ['nor with 13 in a systemd slice', `0::/kubepods.slice/kubepods-pod${uid.replace(/-/g, '_')}6.slice\n`, {}],
    ['garbage', 'not a cgroup file', {}],
  ];
  for (const [name, text, expected] of cases) it(name, () => assert.deepEqual(parseCgroupHints(text), expected));
});

describe('fd and namespace links', () => {
  it('reads socket and namespace inodes, and nothing else', () => {
    assert.equal(socketInodeOfLink('socket:[5047]'), 5047);
    assert.equal(netnsInodeOfLink('net:[4026531833]'), 4026531833);
    for (const other of ['pipe:[5047]', 'socket:[]', 'socket:[12a]', '/dev/null', 'anon_inode:[eventfd]', 'socket:[5047] ', 'net:[1]x']) {
      assert.equal(socketInodeOfLink(other), undefined, other);
      assert.equal(netnsInodeOfLink(other), undefined, other);
    }
  });
});
