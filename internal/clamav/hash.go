package clamav

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"debug/pe"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
)

// hashSig is one hash signature: a digest, a size (-1 for any) and a name.
type hashSig struct {
	size int64
	name string
	pua  bool
}

// hashIndex holds hash signatures by kind and digest, and the sizes they
// name, so a file is hashed only when its size can match.
type hashIndex struct {
	sigs    [numKinds]map[string][]hashSig
	sizes   [numKinds]map[int64]bool
	anySize [numKinds]bool
	n       int
}

func (x *hashIndex) len() int { return x.n }

// parse reads "hash:size:name[:...]" or, for section hashes,
// "size:hash:name[:...]". Size may be "*" (any size).
func (x *hashIndex) parse(s string, sizeFirst, pua bool) string {
	f := strings.Split(s, ":")
	if len(f) < 3 {
		return "fewer than 3 fields"
	}
	hs, ss, name := f[0], f[1], f[2]
	if sizeFirst {
		hs, ss = ss, hs
	}
	k, ok := kindOf(len(hs))
	if !ok {
		return "hash is not MD5, SHA1 or SHA256"
	}
	h, err := hex.DecodeString(hs)
	if err != nil {
		return "hash is not hexadecimal"
	}
	size := int64(-1)
	if ss != "*" {
		if size, err = strconv.ParseInt(ss, 10, 64); err != nil || size < 0 {
			return "bad size " + strconv.Quote(ss)
		}
	}
	if name == "" {
		return "empty signature name"
	}
	x.add(k, h, hashSig{size: size, name: name, pua: pua || strings.HasPrefix(name, "PUA.")})
	return ""
}

func (x *hashIndex) add(k HashKind, h []byte, s hashSig) {
	if x.sigs[k] == nil {
		x.sigs[k] = map[string][]hashSig{}
		x.sizes[k] = map[int64]bool{}
	}
	x.sigs[k][string(h)] = append(x.sigs[k][string(h)], s)
	if s.size < 0 {
		x.anySize[k] = true
	} else {
		x.sizes[k][s.size] = true
	}
	x.n++
}

func (x *hashIndex) merge(o *hashIndex) {
	for k := range numKinds {
		for h, ss := range o.sigs[k] {
			for _, s := range ss {
				x.add(k, []byte(h), s)
			}
		}
	}
}

func (x *hashIndex) sizeWanted(k HashKind, size int64) bool {
	return x.anySize[k] || x.sizes[k][size]
}

// lookup appends the signatures matching a file of size whose digests
// digest returns.
func (x *hashIndex) lookup(size int64, digest func(HashKind) []byte, out []Match, kind string) []Match {
	for k := range numKinds {
		if x.sigs[k] == nil || !x.sizeWanted(k, size) {
			continue
		}
		for _, s := range x.sigs[k][string(digest(k))] {
			if s.size < 0 || s.size == size {
				out = append(out, Match{Name: s.name, Kind: kind, PUA: s.pua})
			}
		}
	}
	return out
}

// NewHash returns a hash.Hash of kind k.
func NewHash(k HashKind) hash.Hash {
	switch k {
	case MD5:
		return md5.New()
	case SHA1:
		return sha1.New()
	}
	return sha256.New()
}

// maxSections bounds the PE sections hashed in one file.
const maxSections = 96

// sectionMatches hashes the raw data of each section of a PE file and looks
// the digests up in the section-hash signatures.
func (db *DB) sectionMatches(data []byte) []Match {
	if len(data) < 64 || data[0] != 'M' || data[1] != 'Z' {
		return nil
	}
	f, err := pe.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	defer f.Close()
	// As ClamAV does, align the raw data pointer down to the file
	// alignment and hash what the file holds of the section.
	var align int64
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		align = int64(oh.FileAlignment)
	case *pe.OptionalHeader64:
		align = int64(oh.FileAlignment)
	}
	var out []Match
	for i, s := range f.Sections {
		if i >= maxSections {
			break
		}
		off, size := int64(s.Offset), int64(s.Size)
		if align > 0 && align&(align-1) == 0 {
			off -= off % align
		}
		if size == 0 || off >= int64(len(data)) {
			continue
		}
		raw := data[off:min(off+size, int64(len(data)))]
		var sums [numKinds][]byte
		digest := func(k HashKind) []byte {
			if sums[k] == nil {
				h := NewHash(k)
				h.Write(raw)
				sums[k] = h.Sum(nil)
			}
			return sums[k]
		}
		out = db.sections.lookup(size, digest, out, "section-hash")
	}
	return out
}
