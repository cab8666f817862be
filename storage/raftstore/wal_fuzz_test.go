package raftstore

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// copyTree copies the regular files of src (one level of directories) to dst.
func copyTree(t testing.TB, src, dst string) {
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			copyTree(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}

// walRange walks ls and fails unless its entries are contiguous with the
// indexes asked for; it returns the range.
func walRange(t *testing.T, ls raft.LogStore) (uint64, uint64) {
	first, err := ls.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := ls.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	for i := first; i <= last && first > 0; i++ {
		var l raft.Log
		if err := ls.GetLog(i, &l); err == nil && l.Index != i {
			t.Fatalf("GetLog(%d) returned index %d", i, l.Index)
		}
	}
	return first, last
}

// FuzzWALSegment damages a member's WAL segment file (bytes written at an
// offset, or the file cut short) and opens the member both ways. Neither
// may panic; a read-only open that succeeds yields contiguous entries; a
// read-write open that succeeds yields a log that takes the next append
// and reads the same after a reopen.
func FuzzWALSegment(f *testing.F) {
	old, had := os.LookupEnv(walEnv)
	os.Setenv(walEnv, "1")
	f.Cleanup(func() {
		if had {
			os.Setenv(walEnv, old)
		} else {
			os.Unsetenv(walEnv)
		}
	})
	tmpl := f.TempDir()
	path := filepath.Join(tmpl, "db")
	if err := Create(path, testMeta()); err != nil {
		f.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		f.Fatal(err)
	}
	for i := uint64(1); i <= 40; i += 10 {
		if err := s.LogStore().StoreLogs(entries(i, i+9, 1)); err != nil {
			f.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}

	f.Add(uint32(0), []byte{0xff}, false)
	f.Add(uint32(40), []byte{0, 0, 0, 0, 0, 0, 0, 0}, false)
	f.Add(uint32(200), []byte("garbage in the middle of a frame"), false)
	f.Add(uint32(1000), []byte{}, true)
	f.Add(uint32(64), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, true)
	f.Fuzz(func(t *testing.T, off uint32, data []byte, cut bool) {
		dir := t.TempDir()
		copyTree(t, tmpl, dir)
		p := filepath.Join(dir, "db")
		segs, err := filepath.Glob(filepath.Join(WALDir(p), "*.wal"))
		if err != nil || len(segs) == 0 {
			t.Fatal("no segment", err)
		}
		seg := segs[len(segs)-1]
		fi, err := os.Stat(seg)
		if err != nil {
			t.Fatal(err)
		}
		at := int64(off) % fi.Size()
		if cut {
			err = os.Truncate(seg, at)
		} else {
			var sf *os.File
			if sf, err = os.OpenFile(seg, os.O_WRONLY, 0); err == nil {
				_, err = sf.WriteAt(data, at)
				sf.Close()
			}
		}
		if err != nil {
			t.Fatal(err)
		}

		if ro, err := OpenReadOnly(p); err == nil {
			var prev uint64
			if err := ro.ForEachLog(func(l *raft.Log, _ error) error {
				if prev > 0 && l.Index != prev+1 {
					t.Fatalf("read-only: index %d after %d", l.Index, prev)
				}
				prev = l.Index
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			ro.Close()
		}

		s, err := Open(p)
		if err != nil {
			return // refused: fine, as long as it did not panic
		}
		first, last := walRange(t, s.LogStore())
		if last > 40 {
			t.Fatalf("last index %d beyond what was written", last)
		}
		if err := s.LogStore().StoreLogs(entries(last+1, last+1, 2)); err != nil {
			s.Close()
			return
		}
		s.Close()
		s, err = Open(p)
		if err != nil {
			t.Fatalf("reopen after an append: %v", err)
		}
		defer s.Close()
		if f2, l2 := walRange(t, s.LogStore()); f2 != first && first != 0 || l2 != last+1 {
			t.Fatalf("after reopen: %d..%d, want %d..%d", f2, l2, first, last+1)
		}
	})
}
