package rpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Berkeley DB hash databases, as rpm's Packages file uses them (Berkeley
// DB's dbinc/db_page.h; rpm reads them without Berkeley DB in
// lib/backend/bdb_ro.c). Only what listing package headers needs is read:
// the metadata page, each hash bucket's chain of hash pages, and the
// chains of overflow pages that hold the headers.
const (
	bdbHashMagic   = 0x00061561
	bdbMetaSize    = 512 // the metadata page is read up to here
	bdbPageHeader  = 26  // bytes before a page's index or data
	bdbMinPageSize = 512
	bdbMaxPageSize = 64 << 10

	pageHashUnsorted = 2 // hash page written before Berkeley DB 4.6
	pageOverflow     = 7
	pageHashMeta     = 8
	pageHash         = 13

	itemKeyData = 1 // H_KEYDATA: the item is on the hash page
	itemOffPage = 3 // H_OFFPAGE: the item is on a chain of overflow pages
	offPageSize = 12

	// sparesCount is the number of split points the metadata page records.
	sparesCount = 32
)

// isBDB reports whether b starts with a Berkeley DB hash metadata page, in
// either byte order.
func isBDB(b []byte) bool {
	if len(b) < bdbMetaSize {
		return false
	}
	m := binary.LittleEndian.Uint32(b[12:])
	return m == bdbHashMagic || m == bits.ReverseBytes32(bdbHashMagic)
}

// bdb reads a Berkeley DB hash database held in memory. Every page is read
// at most once (seen), so neither a cycle of pages nor items sharing
// pages can make the work or the copies exceed the file's size.
type bdb struct {
	b        []byte
	order    binary.ByteOrder
	pageSize int
	// pages is the number of pages that can be read: the metadata's last
	// page number plus one, or fewer when the file is shorter.
	pages     uint32
	maxBucket uint32
	spares    [sparesCount]uint32
	seen      []bool
	// full is set when maxPackages headers have been read.
	full bool
}

// openBDB checks the metadata page of the database in b.
func openBDB(b []byte) (*bdb, error) {
	if !isBDB(b) {
		return nil, errors.New("not a Berkeley DB hash database")
	}
	db := &bdb{b: b, order: binary.LittleEndian}
	if binary.LittleEndian.Uint32(b[12:]) != bdbHashMagic {
		db.order = binary.BigEndian
	}
	u32 := func(off int) uint32 { return db.order.Uint32(b[off:]) }
	if v := u32(16); v < 8 || v > 10 {
		return nil, fmt.Errorf("unsupported hash version %d", v)
	}
	ps := u32(20)
	if ps < bdbMinPageSize || ps > bdbMaxPageSize || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("invalid page size %d", ps)
	}
	if b[24] != 0 {
		return nil, errors.New("encrypted database")
	}
	if b[25] != pageHashMeta {
		return nil, fmt.Errorf("first page has type %d, not hash metadata", b[25])
	}
	db.pageSize = int(ps)
	db.pages = uint32(len(b) / db.pageSize)
	if last := u32(32); last < db.pages {
		db.pages = last + 1
	}
	db.maxBucket = u32(72)
	if db.maxBucket >= db.pages {
		return nil, fmt.Errorf("%d hash buckets in %d pages", uint64(db.maxBucket)+1, db.pages)
	}
	for i := range db.spares {
		db.spares[i] = u32(96 + 4*i)
	}
	db.seen = make([]bool, db.pages)
	return db, nil
}

// page returns page n, checking that it lies in the file, records its own
// number, and was not read before.
func (db *bdb) page(n uint32) ([]byte, error) {
	if n == 0 || n >= db.pages {
		return nil, fmt.Errorf("page %d outside the database's %d pages", n, db.pages)
	}
	if db.seen[n] {
		return nil, fmt.Errorf("page %d reached twice (a cycle or shared pages)", n)
	}
	db.seen[n] = true
	p := db.b[int(n)*db.pageSize : (int(n)+1)*db.pageSize]
	if got := db.order.Uint32(p[8:]); got != n {
		return nil, fmt.Errorf("page %d records number %d", n, got)
	}
	return p, nil
}

// bucketPage is the first page of a hash bucket: buckets are allocated in
// doubling groups, and spares holds each group's page offset.
func (db *bdb) bucketPage(bucket uint32) (uint32, error) {
	i := bits.Len32(bucket)
	if i >= sparesCount {
		return 0, fmt.Errorf("bucket %d beyond the split points", bucket)
	}
	p := uint64(bucket) + uint64(db.spares[i])
	if p >= uint64(db.pages) {
		return 0, fmt.Errorf("bucket %d on page %d, outside the database", bucket, p)
	}
	return uint32(p), nil
}

// bdbBlobs returns the header blobs of the Berkeley DB Packages database
// in b. A damaged bucket or item is skipped and recorded in probs.
func bdbBlobs(ctx context.Context, b []byte, probs *problems) [][]byte {
	db, err := openBDB(b)
	if err != nil {
		probs.add(err)
		return nil
	}
	var blobs [][]byte
	for bucket := uint32(0); bucket <= db.maxBucket && !db.full && !probs.tooMany(); bucket++ {
		if err := ctx.Err(); err != nil {
			probs.add(err)
			break
		}
		pg, err := db.bucketPage(bucket)
		if err != nil {
			probs.add(err)
			continue
		}
		for pg != 0 && !db.full && !probs.tooMany() {
			p, err := db.page(pg)
			if err != nil {
				probs.add(fmt.Errorf("bucket %d: %w", bucket, err))
				break
			}
			if p[25] != pageHash && p[25] != pageHashUnsorted {
				probs.add(fmt.Errorf("bucket %d: page %d has type %d, not hash", bucket, pg, p[25]))
				break
			}
			blobs = db.hashItems(p, blobs, probs)
			pg = db.order.Uint32(p[16:])
		}
	}
	return blobs
}

// hashItems appends the header blobs of one hash page to blobs. Items come
// in key/value pairs; the index holds their offsets, and items are packed
// from the end of the page down, so each one ends where the previous
// begins. Record 0 holds rpm's next instance number, not a header.
func (db *bdb) hashItems(p []byte, blobs [][]byte, probs *problems) [][]byte {
	n := int(db.order.Uint16(p[20:]))
	if bdbPageHeader+2*n > len(p) {
		probs.add(fmt.Errorf("hash page with %d items", n))
		return blobs
	}
	offset := func(i int) int { return int(db.order.Uint16(p[bdbPageHeader+2*i:])) }
	for i := 0; i+1 < n && !probs.tooMany(); i += 2 {
		koff, voff := offset(i), offset(i+1)
		kend := len(p)
		if i > 0 {
			kend = offset(i - 1)
		}
		if koff < bdbPageHeader+2*n || voff < bdbPageHeader+2*n || koff > kend || voff > koff || kend > len(p) {
			probs.add(fmt.Errorf("hash item %d: offsets %d and %d out of order", i/2, koff, voff))
			continue
		}
		key, val := p[koff:kend], p[voff:koff]
		if len(key) != 5 || key[0] != itemKeyData {
			probs.add(fmt.Errorf("hash item %d: key is not a package number", i/2))
			continue
		}
		if db.order.Uint32(key[1:]) == 0 {
			continue
		}
		if len(blobs) == maxPackages {
			probs.add(fmt.Errorf("more than %d packages", maxPackages))
			db.full = true
			return blobs
		}
		blob, err := db.value(val)
		if err != nil {
			probs.add(fmt.Errorf("package %d: %w", db.order.Uint32(key[1:]), err))
			continue
		}
		blobs = append(blobs, blob)
	}
	return blobs
}

// value returns an item's bytes: on the page itself, or gathered from its
// chain of overflow pages.
func (db *bdb) value(item []byte) ([]byte, error) {
	if len(item) == 0 {
		return nil, errors.New("empty item")
	}
	switch item[0] {
	case itemKeyData:
		return item[1:], nil
	case itemOffPage:
		if len(item) != offPageSize {
			return nil, fmt.Errorf("overflow reference of %d bytes", len(item))
		}
		return db.overflow(db.order.Uint32(item[4:]), db.order.Uint32(item[8:]))
	}
	return nil, fmt.Errorf("item of type %d", item[0])
}

// overflow gathers length bytes from the chain of overflow pages starting
// at page pg. The chain is checked whole before anything is copied, so
// memory goes to headers that are there, never to lengths only claimed.
func (db *bdb) overflow(pg, length uint32) ([]byte, error) {
	if length == 0 || length > maxBlob || uint64(length) > uint64(len(db.b)) {
		return nil, fmt.Errorf("item claims %d bytes", length)
	}
	var chain [][]byte
	for rest := int(length); rest > 0; {
		p, err := db.page(pg)
		if err != nil {
			return nil, err
		}
		if p[25] != pageOverflow {
			return nil, fmt.Errorf("page %d has type %d, not overflow", pg, p[25])
		}
		n := int(db.order.Uint16(p[22:]))
		if bdbPageHeader+n > len(p) || n > rest {
			return nil, fmt.Errorf("overflow page %d holds %d bytes", pg, n)
		}
		chain = append(chain, p[bdbPageHeader:bdbPageHeader+n])
		rest -= n
		pg = db.order.Uint32(p[16:])
	}
	out := make([]byte, 0, length)
	for _, part := range chain {
		out = append(out, part...)
	}
	return out, nil
}
