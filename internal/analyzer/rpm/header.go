package rpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
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
	tagFileModes       = 1030
	tagFileDigests     = 1035
	tagDirIndexes      = 1116
	tagBaseNames       = 1117
	tagDirNames        = 1118
	tagFileDigestAlgo  = 5011
)

// Header tag types.
const (
	typeInt16       = 3
	typeInt32       = 4
	typeString      = 6
	typeStringArray = 8
	typeI18NString  = 9
	maxHeaderIndex  = 1 << 16
	maxHeaderData   = 256 << 20
	headerEntrySize = 16
	// maxFiles bounds the files one header may list.
	maxFiles = 500_000
)

// Info is the part of an installed package's header customs uses.
type Info struct {
	Name, Version, Release, Arch string
	// Epoch is 0 when the package has none.
	Epoch                               int
	SourceRPM, License, Vendor, Modular string
	// Files are the files the package installed, with their digests and
	// modes; nil when the header lists none or lists them inconsistently.
	Files []analyzer.OwnedFile
}

// span is where a tag's values lie in a header's data.
type span struct{ typ, off, count uint32 }

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
	spans := map[uint32]span{}
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
		case tagFileModes, tagFileDigests, tagDirIndexes, tagBaseNames, tagDirNames, tagFileDigestAlgo:
			if _, seen := spans[tag]; !seen {
				spans[tag] = span{typ, off, count}
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
	info.Files = headerFiles(data, spans)
	return info, nil
}

// headerFiles joins the file tags of a header into the package's files:
// BASENAMES[i] in DIRNAMES[DIRINDEXES[i]], with FILEDIGESTS[i] in the
// algorithm FILEDIGESTALGO names (MD5 when absent) and FILEMODES[i]. A
// header whose tags disagree lists no files.
func headerFiles(data []byte, spans map[uint32]span) []analyzer.OwnedFile {
	bases, ok := stringArray(data, spans[tagBaseNames])
	if !ok || len(bases) == 0 {
		return nil
	}
	dirs, ok1 := stringArray(data, spans[tagDirNames])
	idx, ok2 := intArray(data, spans[tagDirIndexes], typeInt32, len(bases))
	if !ok1 || !ok2 {
		return nil
	}
	digests, _ := stringArray(data, spans[tagFileDigests])
	modes, _ := intArray(data, spans[tagFileModes], typeInt16, len(bases))
	algo := "md5"
	if a, ok := intArray(data, spans[tagFileDigestAlgo], typeInt32, 1); ok {
		algo = map[uint32]string{1: "md5", 2: "sha1", 8: "sha256"}[a[0]]
	}
	out := make([]analyzer.OwnedFile, len(bases))
	for i, b := range bases {
		if int(idx[i]) >= len(dirs) {
			return nil
		}
		out[i].Path = strings.TrimLeft(path.Clean("/"+dirs[idx[i]]+b), "/")
		if len(digests) == len(bases) && digests[i] != "" && algo != "" {
			out[i].Digest = algo + ":" + strings.ToLower(digests[i])
		}
		if modes != nil {
			out[i].Mode = modes[i] & 0o7777
		}
	}
	return out
}

// stringArray reads a STRING_ARRAY tag's values.
func stringArray(data []byte, s span) ([]string, bool) {
	if s.typ != typeStringArray || s.count == 0 || s.count > maxFiles || int(s.off) >= len(data) {
		return nil, false
	}
	out := make([]string, 0, s.count)
	v := data[s.off:]
	for range s.count {
		end := bytes.IndexByte(v, 0)
		if end < 0 {
			return nil, false
		}
		out = append(out, string(v[:end]))
		v = v[end+1:]
	}
	return out, true
}

// intArray reads n values of an INT16 or INT32 tag that must hold n.
func intArray(data []byte, s span, typ uint32, n int) ([]uint32, bool) {
	size := map[uint32]int{typeInt16: 2, typeInt32: 4}[typ]
	if s.typ != typ || int(s.count) != n || n > maxFiles || int(s.off)+n*size > len(data) {
		return nil, false
	}
	out := make([]uint32, n)
	for i := range out {
		b := data[int(s.off)+i*size:]
		if size == 2 {
			out[i] = uint32(binary.BigEndian.Uint16(b))
		} else {
			out[i] = binary.BigEndian.Uint32(b)
		}
	}
	return out, true
}
