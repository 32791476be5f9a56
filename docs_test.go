package uring_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// goneDesigns lists, per package, phrases that described a design the code
// no longer has. The package doc and its examples' comments must not say
// them again. When a dispatch rule changes, rewrite the package doc and the
// README's section, and add the old rule's words here.
var goneDesigns = map[string][]string{
	"net": {
		// Issue 13, design (d): stream Reads and Writes are system calls that
		// wait in Go's netpoller, not ring operations.
		"park on the ring's completions",
		"instead of the netpoller",
		"read and write are ring operations",
		"accept, read and write go through io_uring",
		// Issue 25: stream Read and Write became the os.File's; datagrams left the ring.
		"recvfrom and sendto system calls (up to 64 kib",
		"have paths of their own (packet.go)",
	},
	"fs": {
		// Issue 12: buffered writes and syncs are system calls.
		"reads, writes and syncs of regular files then go through",
		"writes and syncs go through the ring",
		// Issue 24: reads follow the file system (fs.File.Route), and a
		// cached read is a system call.
		"its reads go through io_uring",
		"every file read through the ring",
	},
}

func TestDocsDescribeTheCode(t *testing.T) {
	for dir, phrases := range goneDesigns {
		texts := packageDocs(t, dir)
		for name, text := range texts {
			flat := strings.ToLower(strings.Join(strings.Fields(text), " "))
			for _, p := range phrases {
				if strings.Contains(flat, p) {
					t.Errorf("%s: %s says %q, which the code no longer does (docs_test.go)", dir, name, p)
				}
			}
		}
	}
}

// packageDocs returns the package doc of dir and its examples' comments, by
// name, for every GOOS (go/doc reads the files without build constraints).
func packageDocs(t *testing.T, dir string) map[string]string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(names) == 0 {
		t.Fatalf("%s: no Go files (%v)", dir, err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, "github.com/goaio/uring/"+dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(p.Doc) == "" {
		t.Fatalf("%s: no package doc", dir)
	}
	texts := map[string]string{"the package doc": p.Doc}
	for _, ex := range allExamples(p) {
		texts["Example"+ex.Name] = ex.Doc
	}
	return texts
}

// allExamples gathers the examples go/doc attached to the package, its
// functions, types and methods.
func allExamples(p *doc.Package) []*doc.Example {
	exs := append([]*doc.Example(nil), p.Examples...)
	for _, f := range p.Funcs {
		exs = append(exs, f.Examples...)
	}
	for _, typ := range p.Types {
		exs = append(exs, typ.Examples...)
		for _, f := range typ.Funcs {
			exs = append(exs, f.Examples...)
		}
		for _, m := range typ.Methods {
			exs = append(exs, m.Examples...)
		}
	}
	return exs
}
