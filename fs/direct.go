package fs

import "unsafe"

// DefaultDirectAlign is the alignment AlignedBuffer uses when the kernel does
// not report one: a page, which every device accepts.
const DefaultDirectAlign = 4096

// AlignedBuffer returns n bytes whose address is a multiple of align (a power
// of two; 0 means DefaultDirectAlign), as O_DIRECT reads and writes need.
func AlignedBuffer(n, align int) []byte {
	if align <= 0 {
		align = DefaultDirectAlign
	}
	raw := make([]byte, n+align)
	skip := (align - int(uintptr(unsafe.Pointer(unsafe.SliceData(raw)))&uintptr(align-1))) & (align - 1)
	return raw[skip : skip+n : skip+n]
}

// AlignedBuffer returns n bytes aligned for O_DIRECT on f's device.
func (f *File) AlignedBuffer(n int) []byte {
	mem, _, err := f.DirectAlignment()
	if err != nil || mem == 0 {
		mem = DefaultDirectAlign
	}
	return AlignedBuffer(n, mem)
}
