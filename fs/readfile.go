package fs

import (
	"io"
	"os"
)

// ReadFile reads the whole named file, like os.ReadFile.
func ReadFile(name string, opts ...Option) ([]byte, error) {
	f, err := Open(name, opts...)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := 512
	st := f.opened
	if st == nil {
		st, _ = f.Stat()
	}
	if st != nil && st.Mode().IsRegular() && st.Size() > 0 && int64(int(st.Size())) == st.Size() {
		size = int(st.Size()) + 1 // one more byte to see EOF without growing
	}
	data := make([]byte, 0, size)
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return data, err
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
}

// WriteFile writes data to the named file, creating it with perm if needed
// and truncating it otherwise, like os.WriteFile.
func WriteFile(name string, data []byte, perm os.FileMode, opts ...Option) error {
	f, err := OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm, opts...)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err1 := f.Close(); err1 != nil && err == nil {
		err = err1
	}
	return err
}
