package ops

// Getxattr reads extended attribute name of path into value; the result is the
// attribute's length.
//
// Implements: io_uring_prep_getxattr.
func Getxattr(path, name string, value []byte) Op {
	if path == "" || name == "" {
		return invalid(OpGetxattr, ErrEmptyPath)
	}
	return Op{Opcode: OpGetxattr, Str: [3]string{name, "", path}, Addr2: bufPtr(value), Len: uint32(len(value))}
}

// Fgetxattr reads extended attribute name of the open file fd into value.
//
// Implements: io_uring_prep_fgetxattr.
func Fgetxattr(fd int, name string, value []byte) Op {
	if op, ok := checkFd(OpFgetxattr, fd); !ok {
		return op
	}
	if name == "" {
		return invalid(OpFgetxattr, ErrEmptyPath)
	}
	return Op{Opcode: OpFgetxattr, Fd: int32(fd), Str: [3]string{name}, Addr2: bufPtr(value), Len: uint32(len(value))}
}

// Setxattr sets extended attribute name of path to value; flags are
// XATTR_CREATE or XATTR_REPLACE (0: either).
//
// Implements: io_uring_prep_setxattr.
func Setxattr(path, name string, value []byte, flags int) Op {
	if path == "" || name == "" {
		return invalid(OpSetxattr, ErrEmptyPath)
	}
	return Op{Opcode: OpSetxattr, Str: [3]string{name, "", path}, Addr2: bufPtr(value), Len: uint32(len(value)),
		OpFlags: uint32(flags)}
}

// Fsetxattr sets extended attribute name of the open file fd to value.
//
// Implements: io_uring_prep_fsetxattr.
func Fsetxattr(fd int, name string, value []byte, flags int) Op {
	if op, ok := checkFd(OpFsetxattr, fd); !ok {
		return op
	}
	if name == "" {
		return invalid(OpFsetxattr, ErrEmptyPath)
	}
	return Op{Opcode: OpFsetxattr, Fd: int32(fd), Str: [3]string{name}, Addr2: bufPtr(value), Len: uint32(len(value)),
		OpFlags: uint32(flags)}
}
