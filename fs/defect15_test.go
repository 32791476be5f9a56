package fs_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/goaio/uring/fs"
)

// outcome is what calling a method gave: its results, or its panic.
type outcome struct {
	panicked bool
	results  []any
}

func call(m reflect.Value, args []reflect.Value) (o outcome) {
	defer func() {
		if recover() != nil {
			o = outcome{panicked: true}
		}
	}()
	for _, r := range m.Call(args) {
		o.results = append(o.results, r.Interface())
	}
	return o
}

// Every exported method of a nil *fs.File does what os's method of that name
// does on a nil *os.File (most return os.ErrInvalid, Fd returns ^0, Name
// panics), the Context variants as the methods they extend; the methods os
// has no counterpart of report nothing usable.
func TestDefect15NilFile(t *testing.T) {
	var nf *fs.File
	var nos *os.File
	fv, ov := reflect.ValueOf(nf), reflect.ValueOf(nos)
	ctx := reflect.TypeFor[context.Context]()
	special := map[string]outcome{
		"UsesRing":        {results: []any{false}},
		"OS":              {results: []any{(*os.File)(nil)}},
		"DirectAlignment": {results: []any{0, 0, os.ErrInvalid}},
		"ReadAtv":         {results: []any{[]int{0, 0}, []error{os.ErrInvalid, os.ErrInvalid}}},
		"AlignedBuffer":   {results: []any{[]byte{}}},
		"SyncData":        {results: []any{os.ErrInvalid}},
		"SyncRange":       {results: []any{os.ErrInvalid}},
		"Allocate":        {results: []any{os.ErrInvalid}},
		"Advise":          {results: []any{os.ErrInvalid}},
		"Route":           {results: []any{fs.Route{Read: "os", Write: "os", Sync: "os"}}},
	}
	for i := range fv.NumMethod() {
		m := fv.Type().Method(i)
		t.Run(m.Name, func(t *testing.T) {
			var args, osArgs []reflect.Value
			for j := 1; j < m.Type.NumIn(); j++ {
				in := m.Type.In(j)
				switch {
				case in == ctx:
					args = append(args, reflect.ValueOf(context.Background()))
					continue
				case m.Name == "ReadAtv" && in.Kind() == reflect.Slice:
					args = append(args, reflect.MakeSlice(in, 2, 2))
					continue
				}
				args = append(args, reflect.Zero(in))
				osArgs = append(osArgs, reflect.Zero(in))
			}
			got := call(fv.Method(i), args)
			want, ok := special[m.Name]
			if !ok {
				om := ov.MethodByName(strings.TrimSuffix(m.Name, "Context"))
				if !om.IsValid() {
					t.Fatalf("%s: no os.File counterpart and no expectation", m.Name)
				}
				want = call(om, osArgs)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) || !reflect.DeepEqual(got, want) {
				t.Errorf("(*fs.File)(nil).%s = %+v, want %+v (os)", m.Name, got, want)
			}
		})
	}
}
