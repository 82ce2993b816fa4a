package rpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// NDB, rpm's own package database (Packages.db, SUSE; rpm's
// lib/backend/ndb/rpmpkg.c). All numbers are little-endian. A 32-byte
// header starts the first of the slot pages; each slot names a package
// index and the run of 16-byte blocks holding its blob. A blob is a
// 16-byte head (magic, package index, time stamp, length), the header
// blob, padding, and a 12-byte tail (checksum, length, magic).
const (
	ndbMagic         = "RpmP"
	ndbSlotMagic     = "Slot"
	ndbBlobMagic     = "BlbS"
	ndbBlobTailMagic = "BlbE"
	ndbHeaderSize    = 32
	ndbPageSize      = 4096
	ndbSlotSize      = 16
	ndbBlockSize     = 16
	ndbBlobHead      = 16
	ndbBlobTail      = 12
)

// isNDB reports whether b starts with an NDB header.
func isNDB(b []byte) bool { return bytes.HasPrefix(b, []byte(ndbMagic)) }

// ndbSlot is one used slot: the package index and its run of blocks.
type ndbSlot struct {
	no, pkg, off, count uint32
	bad                 bool
}

// ndbBlobs returns the header blobs of the NDB database in b, in slot
// order. A damaged slot or blob is skipped and recorded in probs.
// Slots whose blocks overlap an earlier slot's, or that repeat a package
// index, are skipped, so every byte of the file belongs to at most one
// blob. Blobs are slices of b, not copies.
func ndbBlobs(ctx context.Context, b []byte, probs *problems) [][]byte {
	if len(b) < ndbHeaderSize || !isNDB(b) {
		probs.add(errors.New("not an NDB database"))
		return nil
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != 0 {
		probs.add(fmt.Errorf("unsupported NDB version %d", v))
		return nil
	}
	npages := binary.LittleEndian.Uint32(b[12:])
	if npages == 0 || uint64(npages)*ndbPageSize > uint64(len(b)) {
		probs.add(fmt.Errorf("%d slot pages in a file of %d bytes", npages, len(b)))
		return nil
	}
	slots := ndbSlots(b[:int(npages)*ndbPageSize], probs)

	// Blobs start after the slot pages and end within the file; sorted by
	// their first block, each must start after the previous one ends.
	first, blocks := uint64(npages)*ndbPageSize/ndbBlockSize, uint64(len(b)/ndbBlockSize)
	byOffset := make([]*ndbSlot, len(slots))
	for i := range slots {
		byOffset[i] = &slots[i]
	}
	sort.SliceStable(byOffset, func(i, j int) bool { return byOffset[i].off < byOffset[j].off })
	end := first
	pkgs := map[uint32]bool{}
	for _, s := range byOffset {
		if probs.tooMany() {
			s.bad = true
			continue
		}
		switch {
		case uint64(s.off) < end:
			probs.add(fmt.Errorf("slot %d: blocks %d+%d overlap another blob or the slots", s.no, s.off, s.count))
		case uint64(s.off)+uint64(s.count) > blocks:
			probs.add(fmt.Errorf("slot %d: blocks %d+%d past the end of the file", s.no, s.off, s.count))
		case pkgs[s.pkg]:
			probs.add(fmt.Errorf("slot %d: package %d has two slots", s.no, s.pkg))
		default:
			end = uint64(s.off) + uint64(s.count)
			pkgs[s.pkg] = true
			continue
		}
		s.bad = true
	}

	var blobs [][]byte
	for _, s := range slots {
		if s.bad {
			continue
		}
		if probs.tooMany() {
			break
		}
		if err := ctx.Err(); err != nil {
			probs.add(err)
			break
		}
		blob, err := ndbBlob(b, s)
		if err != nil {
			probs.add(fmt.Errorf("package %d: %w", s.pkg, err))
			continue
		}
		blobs = append(blobs, blob)
	}
	return blobs
}

// ndbSlots lists the used slots of the slot pages p, at most maxPackages.
func ndbSlots(p []byte, probs *problems) []ndbSlot {
	var slots []ndbSlot
	for o := ndbHeaderSize; o+ndbSlotSize <= len(p) && !probs.tooMany(); o += ndbSlotSize {
		e, no := p[o:o+ndbSlotSize], uint32(o/ndbSlotSize)
		if string(e[:4]) != ndbSlotMagic {
			probs.add(fmt.Errorf("slot %d: bad magic", no))
			continue
		}
		s := ndbSlot{no: no, pkg: binary.LittleEndian.Uint32(e[4:]), off: binary.LittleEndian.Uint32(e[8:]), count: binary.LittleEndian.Uint32(e[12:])}
		if s.off == 0 {
			continue // free
		}
		if s.pkg == 0 || s.count == 0 {
			probs.add(fmt.Errorf("slot %d: package %d in %d blocks", no, s.pkg, s.count))
			continue
		}
		if len(slots) == maxPackages {
			probs.add(fmt.Errorf("more than %d packages", maxPackages))
			break
		}
		slots = append(slots, s)
	}
	return slots
}

// ndbBlob returns the header blob of slot s, whose blocks lie in b.
func ndbBlob(b []byte, s ndbSlot) ([]byte, error) {
	blk := b[int(s.off)*ndbBlockSize : (int(s.off)+int(s.count))*ndbBlockSize]
	if len(blk) < ndbBlobHead+ndbBlobTail {
		return nil, fmt.Errorf("blob of %d blocks", s.count)
	}
	if string(blk[:4]) != ndbBlobMagic {
		return nil, fmt.Errorf("bad blob magic")
	}
	if got := binary.LittleEndian.Uint32(blk[4:]); got != s.pkg {
		return nil, fmt.Errorf("blob of package %d in its slot", got)
	}
	n := binary.LittleEndian.Uint32(blk[12:])
	if n > maxBlob || (uint64(ndbBlobHead)+uint64(n)+ndbBlobTail+ndbBlockSize-1)/ndbBlockSize != uint64(s.count) {
		return nil, fmt.Errorf("blob claims %d bytes in %d blocks", n, s.count)
	}
	tail := blk[len(blk)-ndbBlobTail:]
	if binary.LittleEndian.Uint32(tail[4:]) != n || string(tail[8:]) != ndbBlobTailMagic {
		return nil, fmt.Errorf("blob tail does not match its head")
	}
	return blk[ndbBlobHead : ndbBlobHead+int(n)], nil
}
