package rpm_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/rpm"
	"github.com/customs-scanner/customs/internal/testimage"
)

// The hostile databases below are the real fixtures with a few numbers
// changed. The Berkeley DB fixture (little-endian, 4096-byte pages) holds
// rpm's record 0 on hash page 1 (bucket 0) and libuuid's header on hash
// page 2 (bucket 1), stored in the chain of overflow pages 3 to 22. The NDB
// fixture holds 35 packages, in slots that start at byte 32.
const (
	bdbPageSize = 4096
	bdbPackages = 1
	ndbPackages = 35
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

// bdbOverflowRef is the file offset of the overflow reference (type,
// padding, first page, length) of libuuid's header on hash page 2.
func bdbOverflowRef(t *testing.T, b []byte) int {
	t.Helper()
	page := b[2*bdbPageSize : 3*bdbPageSize]
	if n := binary.LittleEndian.Uint16(page[20:]); n != 2 || page[25] != 13 {
		t.Fatalf("page 2 is not the hash page of one item: %d entries, type %d", n, page[25])
	}
	voff := int(binary.LittleEndian.Uint16(page[28:]))
	if page[voff] != 3 || binary.LittleEndian.Uint32(page[voff+4:]) != 3 {
		t.Fatalf("page 2 does not refer to overflow page 3")
	}
	return 2*bdbPageSize + voff
}

// ndbSlot is the file offset of the i-th slot of the NDB fixture; the
// first two are in use.
func ndbSlot(i int) int { return 32 + 16*i }

// ndbUsedSlots lists the file offsets of the slots in use (with a block
// offset) in the first slot page.
func ndbUsedSlots(b []byte) []int {
	var used []int
	for o := 32; o < 4096; o += 16 {
		if binary.LittleEndian.Uint32(b[o+8:]) != 0 {
			used = append(used, o)
		}
	}
	return used
}

// readBounded reads b with rpm.Read and fails unless it returns within a
// second, having allocated no more than the database's size plus 1 MiB.
func readBounded(t *testing.T, b []byte) ([]rpm.Info, error) {
	t.Helper()
	type result struct {
		pkgs  []rpm.Info
		err   error
		alloc uint64
		took  time.Duration
	}
	done := make(chan result, 1)
	go func() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		pkgs, err := rpm.Read(context.Background(), b)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		done <- result{pkgs, err, after.TotalAlloc - before.TotalAlloc, took}
	}()
	select {
	case r := <-done:
		if r.took > time.Second {
			t.Errorf("read took %v", r.took)
		}
		if limit := uint64(len(b)) + 1<<20; r.alloc > limit {
			t.Errorf("read allocated %d bytes, more than %d", r.alloc, limit)
		}
		return r.pkgs, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("read did not return in 10 s")
		return nil, nil
	}
}

// TestHostileBerkeleyDB damages the Berkeley DB fixture: every case must
// end quickly, with bounded memory, in an error naming the damage, and
// keep the packages that are intact.
func TestHostileBerkeleyDB(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, b []byte)
		want   string
		pkgs   int
	}{
		{"overflow pages in a cycle", func(t *testing.T, b []byte) {
			put32(b, 10*bdbPageSize+16, 5) // page 10 continues at page 5
		}, "page 5 reached twice", 0},
		{"overflow page continuing on itself", func(t *testing.T, b []byte) {
			put32(b, 3*bdbPageSize+16, 3)
		}, "page 3 reached twice", 0},
		{"overflow chain starting past the end", func(t *testing.T, b []byte) {
			put32(b, bdbOverflowRef(t, b)+4, 1_000_000)
		}, "page 1000000 outside", 0},
		{"overflow chain continuing past the end", func(t *testing.T, b []byte) {
			put32(b, 12*bdbPageSize+16, 0xffffffff)
		}, "page 4294967295 outside", 0},
		{"huge declared header size", func(t *testing.T, b []byte) {
			put32(b, bdbOverflowRef(t, b)+8, 0xfffffff0)
		}, "claims 4294967280 bytes", 0},
		{"header longer than its chain", func(t *testing.T, b []byte) {
			ref := bdbOverflowRef(t, b) + 8
			put32(b, ref, binary.LittleEndian.Uint32(b[ref:])+1)
		}, "page 0 outside", 0},
		{"hash page continuing on itself", func(t *testing.T, b []byte) {
			put32(b, 1*bdbPageSize+16, 1) // bucket 0; bucket 1 stays readable
		}, "bucket 0: page 1 reached twice", bdbPackages},
		{"hash page continuing past the end", func(t *testing.T, b []byte) {
			put32(b, 1*bdbPageSize+16, 0xfffffff0)
		}, "bucket 0: page 4294967280 outside", bdbPackages},
		{"hash page claiming too many items", func(t *testing.T, b []byte) {
			binary.LittleEndian.PutUint16(b[2*bdbPageSize+20:], 0xffff)
		}, "hash page with 65535 items", 0},
		{"more buckets than pages", func(t *testing.T, b []byte) {
			put32(b, 72, 0xfffffff0)
		}, "4294967281 hash buckets in 23 pages", 0},
		{"page number past the file", func(t *testing.T, b []byte) {
			put32(b, 32, 0xffffffff) // last page; the file has 23
			put32(b, 2*bdbPageSize+16, 23)
		}, "page 23 outside the database's 23 pages", bdbPackages},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := fixture(t, "testdata/bdb/Packages")
			c.damage(t, b)
			pkgs, err := readBounded(t, b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
			if len(pkgs) != c.pkgs {
				t.Errorf("%d packages, want %d", len(pkgs), c.pkgs)
			}
		})
	}
}

// TestHostileNDB damages the NDB fixture's slots and blobs.
func TestHostileNDB(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, b []byte)
		want   string
		pkgs   int
	}{
		{"overlapping slots", func(t *testing.T, b []byte) {
			// The second package's blocks start inside the first's.
			put32(b, ndbSlot(1)+8, binary.LittleEndian.Uint32(b[ndbSlot(0)+8:])+4)
		}, "slot 3: blocks", ndbPackages - 1},
		{"every slot on the same blob", func(t *testing.T, b []byte) {
			used := ndbUsedSlots(b)
			if len(used) != ndbPackages || used[0] != ndbSlot(0) {
				t.Fatalf("%d slots in use, starting at %d", len(used), used[0])
			}
			for _, o := range used[1:] {
				copy(b[o+8:o+16], b[ndbSlot(0)+8:ndbSlot(0)+16])
			}
		}, "overlap another blob", 1},
		{"two slots for one package", func(t *testing.T, b []byte) {
			put32(b, ndbSlot(1)+4, 1)
		}, "package 1 has two slots", ndbPackages - 1},
		{"blocks past the end of the file", func(t *testing.T, b []byte) {
			put32(b, ndbSlot(0)+12, 0xfffffff0)
		}, "past the end of the file", ndbPackages - 1},
		{"blob offset past the end of the file", func(t *testing.T, b []byte) {
			put32(b, ndbSlot(0)+8, 0xfffffff0)
		}, "past the end of the file", ndbPackages - 1},
		{"huge declared blob size", func(t *testing.T, b []byte) {
			blob := int(binary.LittleEndian.Uint32(b[ndbSlot(0)+8:])) * 16
			put32(b, blob+12, 0xfffffff0)
		}, "blob claims 4294967280 bytes", ndbPackages - 1},
		{"slot pages past the end of the file", func(t *testing.T, b []byte) {
			put32(b, 12, 0xffffffff)
		}, "4294967295 slot pages", 0},
		{"slot pages covering the whole file", func(t *testing.T, b []byte) {
			put32(b, 12, uint32(len(b)/4096))
		}, "bad magic", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := fixture(t, "testdata/ndb/Packages.db")
			c.damage(t, b)
			pkgs, err := readBounded(t, b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
			if len(pkgs) != c.pkgs {
				t.Errorf("%d packages, want %d", len(pkgs), c.pkgs)
			}
		})
	}
}

// TestHostileWarning scans images holding damaged databases: the scan
// goes on, the packages that could be read are reported, and a warning
// names the database.
func TestHostileWarning(t *testing.T) {
	bdb := fixture(t, "testdata/bdb/Packages")
	put32(bdb, 10*bdbPageSize+16, 5)
	ndb := fixture(t, "testdata/ndb/Packages.db")
	put32(ndb, ndbSlot(1)+8, binary.LittleEndian.Uint32(ndb[ndbSlot(0)+8:])+4)
	for _, c := range []struct {
		path string
		db   []byte
		pkgs int
		want string
	}{
		{"var/lib/rpm/Packages", bdb, 0, "rpm database: package 1: page 5 reached twice"},
		{"usr/lib/sysimage/rpm/Packages.db", ndb, ndbPackages - 1, "rpm database: slot 3: blocks"},
	} {
		res := testimage.Scan(t, testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.File(c.path, string(c.db)))), []analyzer.Analyzer{rpm.New()})
		if len(res.Packages) != c.pkgs {
			t.Errorf("%s: %d packages, want %d", c.path, len(res.Packages), c.pkgs)
		}
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], c.path+": "+c.want) {
			t.Errorf("%s: warnings %q", c.path, res.Warnings)
		}
	}
}

// TestOutOfTime checks that a read cut short by its context marks the
// layer's result incomplete, so it is not cached, while damage does not.
func TestOutOfTime(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	damaged := fixture(t, "testdata/bdb/Packages")
	put32(damaged, 10*bdbPageSize+16, 5)
	for _, c := range []struct {
		name       string
		ctx        context.Context
		db         []byte
		incomplete bool
	}{
		{"cancelled", cancelled, fixture(t, "testdata/bdb/Packages"), true},
		{"damaged", context.Background(), damaged, false},
	} {
		var r analyzer.Result
		f := &analyzer.File{Entry: analyzer.Entry{Path: "var/lib/rpm/Packages", Mode: 0o644}, Content: c.db}
		if err := rpm.New().Analyze(c.ctx, f, &r); err != nil {
			t.Fatal(err)
		}
		if r.Incomplete != c.incomplete || len(r.Warnings) != 1 {
			t.Errorf("%s: incomplete %v, warnings %q", c.name, r.Incomplete, r.Warnings)
		}
	}
}

// BenchmarkRead reads the real fixtures.
func BenchmarkRead(b *testing.B) {
	for _, name := range []string{"testdata/bdb/Packages", "testdata/ndb/Packages.db"} {
		db, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name[len("testdata/"):], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rpm.Read(context.Background(), db); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHostileHeader gives ParseHeader a header of 60,000 name entries, all
// pointing at one string of 1 MiB: the string is read once.
func TestHostileHeader(t *testing.T) {
	const entries, size = 60_000, 1 << 20
	b := binary.BigEndian.AppendUint32(nil, entries)
	b = binary.BigEndian.AppendUint32(b, size+1)
	for i := 0; i < entries; i++ {
		for _, v := range []uint32{1000, 6, uint32(i % 2), 1} { // name, string, offset 0 or 1
			b = binary.BigEndian.AppendUint32(b, v)
		}
	}
	b = append(b, bytes.Repeat([]byte{'a'}, size)...)
	b = append(b, 0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	info, err := rpm.ParseHeader(b)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil || len(info.Name) != size {
		t.Fatalf("name of %d bytes, %v", len(info.Name), err)
	}
	if took > time.Second {
		t.Errorf("took %v", took)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*size {
		t.Errorf("allocated %d bytes", alloc)
	}
}
