package fs

// Route says where a File's calls go under the dispatch rule
// (docs/design.md, "Files on every file system"): the file system it is on,
// as /proc/mounts names it, and per kind of call one of
//   - "nowait": preadv2 with RWF_NOWAIT, and the ring for what the page
//     cache misses (reads on ext4, xfs, btrfs);
//   - "syscall": the system call os.File makes (buffered writes and syncs
//     everywhere; every read on tmpfs, overlayfs, FUSE, where io_uring would
//     hand it to a worker thread; O_DIRECT reads and writes on tmpfs and
//     FUSE);
//   - "ring": an io_uring op (O_DIRECT reads and writes on ext4, xfs, btrfs
//     and overlayfs; block devices);
//   - "os": os.File's own method (no io_uring, WithoutRing, or not a
//     regular file or block device).
type Route struct {
	FileSystem        string
	Read, Write, Sync string
}

// String is "fs: read R, write W, sync S".
func (r Route) String() string {
	fs := r.FileSystem
	if fs == "" {
		fs = "unknown file system"
	}
	return fs + ": read " + r.Read + ", write " + r.Write + ", sync " + r.Sync
}

// Route reports where the File's reads, writes and syncs go.
func (f *File) Route() Route {
	if !f.UsesRing() {
		return Route{FileSystem: fileSystemOf(f.osFile()), Read: "os", Write: "os", Sync: "os"}
	}
	read := f.rule.read
	if read == viaNowait && f.rule.learnedNoNowait() {
		read = viaSyscall
	}
	return Route{FileSystem: f.rule.fileSystem(), Read: read.String(), Write: f.rule.write.String(), Sync: f.rule.sync.String()}
}

func (p path) String() string {
	switch p {
	case viaRing:
		return "ring"
	case viaSyscall, viaRawRead:
		return "syscall"
	}
	return "nowait"
}
