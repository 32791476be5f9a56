package fs

import "golang.org/x/sys/unix"

// DirectAlignment returns the memory and file-offset alignments O_DIRECT
// needs on f's device, from statx (STATX_DIOALIGN, Linux 6.1). Zeros mean the
// file does not support O_DIRECT or the kernel does not say.
func (f *File) DirectAlignment() (mem, off int, err error) {
	var st unix.Statx_t
	rc, err := f.osFile().SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.Statx(int(fd), "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st)
	}); err != nil {
		return 0, 0, err
	}
	if serr != nil {
		return 0, 0, f.pathErr("statx", serr)
	}
	if st.Mask&unix.STATX_DIOALIGN == 0 {
		return 0, 0, nil
	}
	return int(st.Dio_mem_align), int(st.Dio_offset_align), nil
}
