package rpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Header tags customs reads (rpm's lib/rpmtag.h).
const (
	tagName            = 1000
	tagVersion         = 1001
	tagRelease         = 1002
	tagEpoch           = 1003
	tagVendor          = 1011
	tagLicense         = 1014
	tagArch            = 1022
	tagSourceRPM       = 1044
	tagModularityLabel = 5096
)

// Header tag types.
const (
	typeInt32       = 4
	typeString      = 6
	typeI18NString  = 9
	maxHeaderIndex  = 1 << 16
	maxHeaderData   = 256 << 20
	headerEntrySize = 16
)

// Info is the part of an installed package's header customs uses.
type Info struct {
	Name, Version, Release, Arch string
	// Epoch is 0 when the package has none.
	Epoch                               int
	SourceRPM, License, Vendor, Modular string
}

// ParseHeader reads an rpm header blob as the database stores it: index
// length and data length (big-endian uint32), the index entries, then the
// data. Every offset is checked against the data, so a hostile blob
// yields an error, never a panic or a large allocation.
func ParseHeader(b []byte) (Info, error) {
	var info Info
	if len(b) < 8 {
		return info, errors.New("header too short")
	}
	il, dl := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if il > maxHeaderIndex || dl > maxHeaderData {
		return info, fmt.Errorf("header claims %d entries and %d data bytes", il, dl)
	}
	start := 8 + int(il)*headerEntrySize
	if len(b) < start+int(dl) {
		return info, errors.New("header shorter than its index says")
	}
	data := b[start : start+int(dl)]
	// done marks the string tags already read: a tag given twice is read
	// once, so a header of many entries over a long string costs one scan
	// of that string, not one for each entry.
	var done uint16
	for i := 0; i < int(il); i++ {
		e := b[8+i*headerEntrySize:]
		tag, typ := binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
		off, count := binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])
		if off >= uint32(len(data)) || count == 0 {
			continue
		}
		v := data[off:]
		var dst *string
		var bit uint16
		switch tag {
		case tagName:
			dst, bit = &info.Name, 1<<0
		case tagVersion:
			dst, bit = &info.Version, 1<<1
		case tagRelease:
			dst, bit = &info.Release, 1<<2
		case tagArch:
			dst, bit = &info.Arch, 1<<3
		case tagSourceRPM:
			dst, bit = &info.SourceRPM, 1<<4
		case tagLicense:
			dst, bit = &info.License, 1<<5
		case tagVendor:
			dst, bit = &info.Vendor, 1<<6
		case tagModularityLabel:
			dst, bit = &info.Modular, 1<<7
		case tagEpoch:
			if typ == typeInt32 && len(v) >= 4 {
				info.Epoch = int(int32(binary.BigEndian.Uint32(v)))
			}
			continue
		default:
			continue
		}
		if (typ != typeString && typ != typeI18NString) || done&bit != 0 {
			continue
		}
		done |= bit
		end := bytes.IndexByte(v, 0)
		if end < 0 {
			return info, fmt.Errorf("tag %d: string not terminated", tag)
		}
		*dst = string(v[:end])
	}
	if info.Name == "" {
		return info, errors.New("header without a name")
	}
	return info, nil
}
