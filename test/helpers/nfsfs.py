#!/usr/bin/python3
"""A passthrough FUSE file system that behaves like one client of EFS (NFSv4.1).

usage: nfsfs.py BACKING MOUNTPOINT [--attr-timeout S] [--entry-timeout S]
                [--negative-timeout S] [--meta-delay-ms X] [--read-delay-ms Y]
                [--stats-file PATH] [--parent-pid PID]

What it reproduces, and why:
- The kernel caches attributes and names for --attr-timeout / --entry-timeout
  seconds, so stat() through one mount stays stale after another mount (or the
  backing directory) changed a file, as EFS clients do with actimeo.
- Every open() reaches this process and opens the backing path anew, and files
  are opened with direct_io, so open()+read() until EOF returns the bytes on the
  backing file now (NFS close-to-open), even when the cached size is stale.
- Optional sleeps per metadata call and per read stand in for the network.
- Per-operation counters are written as JSON to --stats-file every 0.2 s,
  {"at_ms": <wall clock>, "ops": {"getattr": n, ...}}, so a test can show how
  many file-system calls some work cost. A kernel LOOKUP reaches libfuse's
  high-level API as getattr, so "getattr" counts lookups and stats alike.

Where it differs from EFS, seen on Linux 6.x:
- fstat() right after open() can still report the cached (stale) size, where
  NFS revalidates attributes on open; a read through the mount marks the
  cached atime stale, so the next full stat()/fstat() asks again. Readers must
  read until EOF rather than trust the size (fs.promises.readFile does trust it).
- readdir() is never cached here (libfuse2 has no directory cache).
- The kernel serializes lookups of uncached names within one directory,
  because libfuse2 cannot ask for FUSE_PARALLEL_DIROPS: N first-time lookups
  in one directory cost N x --meta-delay-ms even when made in parallel. Cached
  names, getattr and open/read run in parallel as on NFS.
- A file unlinked or renamed over through this same mount while open stays
  readable by its handle, but fstat() on that handle fails with ENOENT. NFS
  would silly-rename it (.nfsXXXX) instead, which leaves a moment where the
  name is missing; here rename over an open file stays atomic.

Needs Debian's python3-fusepy (module `fusepy`; upstream names it `fuse`) on
libfuse2. Runs in the foreground; SIGTERM/SIGINT unmount and exit.
"""

import argparse
import ctypes
import errno
import json
import os
import signal
import stat
import sys
import threading
import time

try:
    import fusepy as fusemod
except ImportError:  # upstream fusepy
    import fuse as fusemod

FUSE = fusemod.FUSE
FuseOSError = fusemod.FuseOSError
Operations = fusemod.Operations


class _OpsWithNullPath(fusemod.fuse_operations):
    """fusepy offers no way to set flag_nullpath_ok; with it (and hard_remove),
    a file unlinked or renamed over while open stays readable by its handle
    instead of being hidden as .fuse_hidden* in the backing directory."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.flag_nullpath_ok = 1


fusemod.fuse_operations = _OpsWithNullPath

META_OPS = frozenset({
    'getattr', 'readdir', 'opendir', 'access', 'open', 'create', 'rename',
    'unlink', 'mkdir', 'rmdir', 'link', 'symlink', 'readlink', 'chmod',
    'chown', 'utimens', 'truncate', 'statfs', 'mknod',
})
DATA_OPS = frozenset({'read'})
# fusepy calls these on start and stop; they are not file-system traffic.
UNCOUNTED = frozenset({'init', 'destroy'})


class NfsLike(Operations):
    use_ns = True

    def __init__(self, backing, meta_delay, read_delay):
        self.backing = os.path.realpath(backing)
        self.meta_delay = meta_delay
        self.read_delay = read_delay
        self.counts = {}
        self.counts_lock = threading.Lock()

    def __call__(self, op, *args):
        if op not in UNCOUNTED:
            with self.counts_lock:
                self.counts[op] = self.counts.get(op, 0) + 1
        if op in META_OPS and self.meta_delay:
            time.sleep(self.meta_delay)
        elif op in DATA_OPS and self.read_delay:
            time.sleep(self.read_delay)
        return super().__call__(op, *args)

    def snapshot(self):
        with self.counts_lock:
            return dict(self.counts)

    def _full(self, path):
        return self.backing + path

    # attributes and names

    def getattr(self, path, fi=None):
        st = os.fstat(fi.fh) if fi is not None else os.lstat(self._full(path))
        return {
            'st_mode': st.st_mode, 'st_ino': st.st_ino, 'st_dev': st.st_dev,
            'st_nlink': st.st_nlink, 'st_uid': st.st_uid, 'st_gid': st.st_gid,
            'st_size': st.st_size, 'st_blocks': st.st_blocks,
            'st_blksize': st.st_blksize, 'st_rdev': st.st_rdev,
            'st_atime': st.st_atime_ns, 'st_mtime': st.st_mtime_ns,
            'st_ctime': st.st_ctime_ns,
        }

    def access(self, path, amode):
        if not os.access(self._full(path), amode):
            raise FuseOSError(errno.EACCES)

    def readdir(self, path, fh):
        # An NFS READDIR reply carries each entry's type, so a client's
        # getdents() fills d_type and needs no lookup per entry; without it the
        # kernel reports DT_UNKNOWN and a listing with types costs one lookup
        # per name. Entries are (name, file type bits), see ListingFUSE.
        out = [('.', stat.S_IFDIR), ('..', stat.S_IFDIR)]
        with os.scandir(self._full(path)) as entries:
            for e in entries:
                # DirEntry knows the type from the backing directory's own
                # d_type; stat only when that is unknown.
                if e.is_symlink():
                    mode = stat.S_IFLNK
                elif e.is_dir(follow_symlinks=False):
                    mode = stat.S_IFDIR
                elif e.is_file(follow_symlinks=False):
                    mode = stat.S_IFREG
                else:
                    try:
                        mode = stat.S_IFMT(e.stat(follow_symlinks=False).st_mode)
                    except OSError:
                        continue
                out.append((e.name, mode))
        return out

    def readlink(self, path):
        return os.readlink(self._full(path))

    def statfs(self, path):
        sv = os.statvfs(self._full(path))
        return {key: getattr(sv, key) for key in (
            'f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail',
            'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def chmod(self, path, mode):
        os.chmod(self._full(path), mode)

    def chown(self, path, uid, gid):
        os.lchown(self._full(path), uid, gid)

    def utimens(self, path, times=None):
        if times is None:
            os.utime(self._full(path))
        else:
            os.utime(self._full(path), ns=times)

    def truncate(self, path, length, fi=None):
        if fi is not None:
            os.ftruncate(fi.fh, length)
        else:
            os.truncate(self._full(path), length)

    # the namespace

    def mknod(self, path, mode, dev):
        os.mknod(self._full(path), mode, dev)

    def mkdir(self, path, mode):
        os.mkdir(self._full(path), mode)

    def rmdir(self, path):
        os.rmdir(self._full(path))

    def unlink(self, path):
        os.unlink(self._full(path))

    def rename(self, old, new):
        os.rename(self._full(old), self._full(new))

    def link(self, target, source):
        os.link(self._full(source), self._full(target))

    def symlink(self, target, source):
        # source is the link's text, stored as given
        os.symlink(source, self._full(target))

    # file contents

    def open(self, path, fi):
        fi.fh = os.open(self._full(path), fi.flags)
        # direct_io: reads bypass the page cache and are not cut at the cached
        # size, so what the backing file holds at read time is what is read.
        fi.direct_io = 1
        fi.keep_cache = 0
        return 0

    def create(self, path, mode, fi):
        fi.fh = os.open(self._full(path), fi.flags | os.O_CREAT, mode)
        fi.direct_io = 1
        fi.keep_cache = 0
        return 0

    def read(self, path, size, offset, fi):
        return os.pread(fi.fh, size, offset)

    def write(self, path, data, offset, fi):
        return os.pwrite(fi.fh, data, offset)

    def flush(self, path, fi):
        return 0

    def fsync(self, path, datasync, fi):
        if datasync:
            os.fdatasync(fi.fh)
        else:
            os.fsync(fi.fh)

    def release(self, path, fi):
        os.close(fi.fh)


class ListingFUSE(FUSE):
    """fusepy builds a stat struct per directory entry from a dict; libfuse
    only reads the type from it and copies it, so one struct per type does,
    and the daemon lists 100,000 names in a fraction of the time (its own
    CPU is not what a test of the server means to measure)."""

    def readdir(self, path, buf, filler, offset, fip):
        by_type = {}
        for name, mode in self.operations('readdir', self._decode_optional_path(path), fip.contents.fh):
            st = by_type.get(mode)
            if st is None:
                st = by_type[mode] = fusemod.c_stat()
                st.st_mode = mode
            if filler(buf, name.encode(self.encoding), st, 0) != 0:
                break
        return 0


def write_stats(ops, path):
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w') as f:
        json.dump({'at_ms': int(time.time() * 1000), 'ops': ops.snapshot()},
                  f, sort_keys=True)
    os.replace(tmp, path)


def exit_with_parent(parent_pid):
    # A test runner killed hard must not leave a mount behind: SIGTERM makes
    # libfuse leave its loop and unmount.
    PR_SET_PDEATHSIG = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:
        sys.exit('nfsfs: parent %d is gone' % parent_pid)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('backing')
    p.add_argument('mountpoint')
    p.add_argument('--attr-timeout', type=float, default=3.0)
    p.add_argument('--entry-timeout', type=float, default=3.0)
    p.add_argument('--negative-timeout', type=float, default=None,
                   help='defaults to --entry-timeout')
    p.add_argument('--meta-delay-ms', type=float, default=0.0)
    p.add_argument('--read-delay-ms', type=float, default=0.0)
    p.add_argument('--stats-file')
    p.add_argument('--parent-pid', type=int,
                   help='unmount and exit when this process dies')
    a = p.parse_args()

    if not os.path.isdir(a.backing):
        sys.exit('nfsfs: backing directory %s does not exist' % a.backing)
    negative = a.entry_timeout if a.negative_timeout is None else a.negative_timeout
    ops = NfsLike(a.backing, a.meta_delay_ms / 1000.0, a.read_delay_ms / 1000.0)

    if a.parent_pid:
        exit_with_parent(a.parent_pid)
    if a.stats_file:
        # Written even when nothing changed: a reader waits for a write newer
        # than its question to know the counts are current.
        def dump_loop():
            while True:
                time.sleep(0.2)
                write_stats(ops, a.stats_file)

        write_stats(ops, a.stats_file)
        threading.Thread(target=dump_loop, daemon=True).start()

    # libfuse installs its own SIGTERM/SIGINT handlers (they end the loop and
    # unmount) only where the handler is SIG_DFL, as it is for SIGTERM here.
    ListingFUSE(ops, a.mountpoint, raw_fi=True, foreground=True, nothreads=False,
         fsname='nfsfs', subtype='nfsfs', hard_remove=True,
         attr_timeout=a.attr_timeout, entry_timeout=a.entry_timeout,
         negative_timeout=negative, big_writes=True)
    if a.stats_file:
        write_stats(ops, a.stats_file)


if __name__ == '__main__':
    main()
