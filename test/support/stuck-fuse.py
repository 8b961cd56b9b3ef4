"""A read-only FUSE filesystem for tests: a copy of a directory tree in which reads of chosen
files block until the test releases them, like procfs on a hung mount.

Usage: stuck-fuse.py SOURCE MOUNTPOINT [--single-thread]
Commands on stdin, one per line; each is answered with one JSON line on stdout:
  block PATH    reads of PATH (relative, e.g. 1/net/udp) wait from now on
  release PATH  waiting and future reads of PATH go through
  slow PATH MS  from now on, the first read(2) of each opening of PATH (at offset 0) answers
                after MS milliseconds: a slow read, which returns, unlike a blocked one
  count PATH    how many reads of PATH have started so far
  hold PATH     a thread of this helper reads PATH (block it first). With --single-thread that
                occupies the filesystem's only thread, so every other request waits unanswered
                in the kernel's queue, where (unlike a request being answered) a fatal signal
                can still end the waiting process
Prints {"mounted": true} once the filesystem answers. Needs Debian's python3-fusepy and root
(or a fusermount the user may run).
"""
import errno
import json
import os
import stat
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations


class StuckTree(Operations):
    use_ns = True

    def __init__(self, source, mountpoint):
        self.source = os.path.realpath(source)
        self.mountpoint = mountpoint
        self.lock = threading.Lock()
        self.gates = {}
        self.delays = {}
        self.reads = {}

    def _real(self, path):
        return os.path.join(self.source, path.lstrip('/'))

    def gate(self, relative):
        with self.lock:
            return self.gates.setdefault('/' + relative.lstrip('/'), threading.Event())

    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self._real(path))
        except FileNotFoundError:
            raise FuseOSError(errno.ENOENT)
        mode = (stat.S_IFDIR | 0o555) if stat.S_ISDIR(st.st_mode) else (stat.S_IFREG | 0o444)
        return {'st_mode': mode, 'st_nlink': 2 if stat.S_ISDIR(st.st_mode) else 1, 'st_size': st.st_size,
                'st_uid': 0, 'st_gid': 0, 'st_mtime': st.st_mtime_ns, 'st_atime': st.st_atime_ns, 'st_ctime': st.st_ctime_ns}

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._real(path))

    def open(self, path, flags):
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise FuseOSError(errno.EROFS)
        if not os.path.exists(self._real(path)):
            raise FuseOSError(errno.ENOENT)
        return 0

    def read(self, path, size, offset, fh):
        with self.lock:
            self.reads[path] = self.reads.get(path, 0) + 1
            gate = self.gates.get(path)
            delay = self.delays.get(path, 0) if offset == 0 else 0
        if gate is not None:
            gate.wait()
        if delay > 0:
            time.sleep(delay)
        with open(self._real(path), 'rb') as f:
            f.seek(offset)
            return f.read(size)


def serve_commands(tree):
    for line in sys.stdin:
        op, _, relative = line.strip().partition(' ')
        if op == 'block':
            gate = tree.gate(relative)
            gate.clear()
            reply = {'ok': True}
        elif op == 'release':
            tree.gate(relative).set()
            reply = {'ok': True}
        elif op == 'slow':
            relative, _, ms = relative.rpartition(' ')
            with tree.lock:
                tree.delays['/' + relative.lstrip('/')] = int(ms) / 1000
            reply = {'ok': True}
        elif op == 'hold':
            target = os.path.join(tree.mountpoint, relative)
            threading.Thread(target=lambda: open(target, 'rb').read(), daemon=True).start()
            reply = {'ok': True}
        elif op == 'count':
            with tree.lock:
                reply = {'count': tree.reads.get('/' + relative.lstrip('/'), 0)}
        else:
            reply = {'error': 'unknown command ' + op}
        print(json.dumps(reply), flush=True)
    # stdin closed: let every blocked read go, so the mount can be taken down.
    with tree.lock:
        for gate in tree.gates.values():
            gate.set()


def main():
    source, mountpoint = sys.argv[1], sys.argv[2]
    single_thread = '--single-thread' in sys.argv[3:]
    tree = StuckTree(source, mountpoint)

    def announce():
        # The mount is up once the mountpoint shows the source's entries.
        for _ in range(200):
            if os.path.ismount(mountpoint):
                print(json.dumps({'mounted': True}), flush=True)
                serve_commands(tree)
                return
            time.sleep(0.05)
        print(json.dumps({'error': 'mount did not appear'}), flush=True)

    threading.Thread(target=announce, daemon=True).start()
    # direct_io: every read reaches read() above, none is served from the page cache.
    FUSE(tree, mountpoint, foreground=True, nothreads=single_thread, ro=True, direct_io=True,
         attr_timeout=0, entry_timeout=0)


if __name__ == '__main__':
    main()
