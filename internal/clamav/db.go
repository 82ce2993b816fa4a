// Package clamav reads ClamAV signature databases natively and matches
// them against file contents: .cvd/.cld containers (header MD5 verified for
// .cvd), hash signatures (.hdb, .hsb, .mdb, .msb and their PUA variants
// .hdu, .hsu, .mdu, .msu), false-positive allowlists (.fp, .sfp), ignore
// lists (.ign, .ign2), body signatures (.ndb, .ndu) and a subset of logical
// signatures (.ldb, .ldu). Signatures it cannot apply are skipped and
// counted, never guessed at.
package clamav

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// HashKind is a digest algorithm used by hash signatures.
type HashKind int

// Hash kinds, told apart by the length of the hex digest.
const (
	MD5 HashKind = iota
	SHA1
	SHA256
	numKinds
)

func kindOf(hexLen int) (HashKind, bool) {
	switch hexLen {
	case 32:
		return MD5, true
	case 40:
		return SHA1, true
	case 64:
		return SHA256, true
	}
	return 0, false
}

// DB is a loaded set of signatures, safe for concurrent matching.
type DB struct {
	files    hashIndex // whole-file hashes
	sections hashIndex // PE section hashes
	allow    hashIndex // false-positive allowlist
	ignore   map[string]bool
	body     bodyIndex
	logical  []*logicalSig

	// Signatures counts the signatures loaded; Skipped those that were
	// malformed or use features this reader does not support.
	Signatures int
	Skipped    int
	// Warnings describes the first skipped signatures and unsupported files.
	Warnings []string
	// Files lists the database files loaded, by base name.
	Files []string
	ident []byte
}

const maxWarnings = 50

func (db *DB) skip(file string, line int, why string) {
	db.Skipped++
	if len(db.Warnings) < maxWarnings {
		db.Warnings = append(db.Warnings, fmt.Sprintf("%s:%d: %s", file, line, why))
	}
}

// Identity is a digest of every database file's name and content, for
// cache keys.
func (db *DB) Identity() string { return hex.EncodeToString(db.ident) }

// Load reads every database file in dir (not recursively). Unknown file
// types are ignored; a corrupt container is an error.
func Load(dir string) (*DB, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("clamav database %s: %w", dir, err)
	}
	db := newDB()
	id := sha256.New()
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && (isContainer(e.Name()) || formatOf(e.Name()) != "") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("clamav database %s: no .cvd, .cld or signature files", dir)
	}
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(id, "%s\x00", n)
		err = db.add(n, io.TeeReader(f, id))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("clamav database %s: %w", filepath.Join(dir, n), err)
		}
	}
	db.ident = id.Sum(nil)
	db.finish()
	return db, nil
}

// Parse builds a database from named files held in memory (name decides
// the format, as in a database directory).
func Parse(files map[string][]byte) (*DB, error) {
	db := newDB()
	id := sha256.New()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(id, "%s\x00", n)
		id.Write(files[n])
		if err := db.add(n, bytes.NewReader(files[n])); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
	}
	db.ident = id.Sum(nil)
	db.finish()
	return db, nil
}

func newDB() *DB {
	return &DB{ignore: map[string]bool{}}
}

func isContainer(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".cvd" || ext == ".cld"
}

// formatOf returns the signature format of a file name, "" when it is not
// a format this package reads.
func formatOf(name string) string {
	switch ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(name), ".")); ext {
	case "hdb", "hdu", "hsb", "hsu", "mdb", "mdu", "msb", "msu", "fp", "sfp", "ndb", "ndu", "ldb", "ldu", "ign", "ign2":
		return ext
	}
	if unsupportedFormats[strings.ToLower(strings.TrimPrefix(filepath.Ext(name), "."))] {
		return "unsupported"
	}
	return ""
}

// unsupportedFormats are ClamAV signature files this package does not
// read (container metadata, phishing, icon, bytecode, YARA, ...): their
// signatures are counted as skipped, one warning per file.
var unsupportedFormats = map[string]bool{
	"cdb": true, "cbc": true, "crb": true, "ftm": true, "gdb": true, "idb": true, "imp": true,
	"pdb": true, "wdb": true, "hwp": true, "yar": true, "yara": true, "cat": true,
}

// add loads one database file: a container or a signature file.
func (db *DB) add(name string, r io.Reader) error {
	if isContainer(name) {
		// Load into a scratch database first: a container whose MD5
		// does not match contributes nothing.
		tmp := newDB()
		verify := strings.EqualFold(filepath.Ext(name), ".cvd")
		_, err := ReadContainer(r, verify, func(member string, mr io.Reader) error {
			if formatOf(member) == "" {
				_, err := io.Copy(io.Discard, mr)
				return err
			}
			tmp.Files = append(tmp.Files, name+"/"+member)
			return tmp.parseFile(member, mr)
		})
		if err != nil {
			return err
		}
		db.merge(tmp)
		return nil
	}
	db.Files = append(db.Files, name)
	return db.parseFile(name, r)
}

func (db *DB) merge(o *DB) {
	db.files.merge(&o.files)
	db.sections.merge(&o.sections)
	db.allow.merge(&o.allow)
	for k := range o.ignore {
		db.ignore[k] = true
	}
	db.body.sigs = append(db.body.sigs, o.body.sigs...)
	db.logical = append(db.logical, o.logical...)
	db.Signatures += o.Signatures
	db.Skipped += o.Skipped
	for _, w := range o.Warnings {
		if len(db.Warnings) < maxWarnings {
			db.Warnings = append(db.Warnings, w)
		}
	}
	db.Files = append(db.Files, o.Files...)
}

// maxLine bounds one signature line; longer lines are skipped.
const maxLine = 1 << 20

// parseFile reads one signature file line by line.
func (db *DB) parseFile(name string, r io.Reader) error {
	format := formatOf(name)
	if format == "unsupported" {
		return db.skipFile(name, r)
	}
	pua := strings.HasSuffix(format, "u")
	br := bufio.NewReaderSize(r, 64<<10)
	var long bool
	var acc []byte
	for n := 1; ; {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !long && len(acc)+len(chunk) <= maxLine {
				acc = append(acc, chunk...)
			} else {
				long = true
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		line := chunk
		if len(acc) > 0 {
			acc = append(acc, chunk...)
			line = acc
		}
		if long || len(line) > maxLine {
			db.skip(name, n, "line too long")
		} else if s := strings.TrimRight(string(line), "\r\n"); s != "" && !strings.HasPrefix(s, "#") {
			if why := db.parseLine(format, s, pua); why != "" {
				db.skip(name, n, why)
			} else if format != "ign" && format != "ign2" && format != "fp" && format != "sfp" {
				db.Signatures++
			}
		}
		acc, long = acc[:0], false
		n++
		if err != nil {
			return nil
		}
	}
}

// skipFile counts the signatures (lines that are neither empty nor
// comments) of a file in a format this package does not read.
func (db *DB) skipFile(name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	n, start := 0, true
	for {
		b, err := br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if start && b != '\n' && b != '\r' && b != '#' {
			n++
		}
		start = b == '\n'
	}
	if n > 0 {
		db.Skipped += n
		if len(db.Warnings) < maxWarnings {
			db.Warnings = append(db.Warnings, fmt.Sprintf("%s: %d signatures in a format customs does not read", name, n))
		}
	}
	return nil
}

// parseLine adds one signature and returns why it was skipped, or "".
func (db *DB) parseLine(format, s string, pua bool) string {
	switch format {
	case "hdb", "hdu", "hsb", "hsu":
		return db.files.parse(s, false, pua)
	case "mdb", "mdu", "msb", "msu":
		return db.sections.parse(s, true, pua)
	case "fp", "sfp":
		return db.allow.parse(s, false, false)
	case "ign", "ign2":
		// .ign2 holds a name (optionally name:md5); .ign repo:line:name.
		f := strings.Split(s, ":")
		if format == "ign" && len(f) >= 3 {
			db.ignore[f[2]] = true
		} else {
			db.ignore[f[0]] = true
		}
		return ""
	case "ndb", "ndu":
		sig, why := parseBody(s, pua)
		if why != "" {
			return why
		}
		db.body.sigs = append(db.body.sigs, sig)
		return ""
	case "ldb", "ldu":
		sig, why := parseLogical(s, pua)
		if why != "" {
			return why
		}
		db.logical = append(db.logical, sig)
		return ""
	}
	return "unknown format"
}

// finish builds the matching structures once everything is loaded.
func (db *DB) finish() {
	var subs []*bodySig
	for _, l := range db.logical {
		subs = append(subs, l.subs...)
	}
	db.body.build(subs)
}

// Match is one signature that matched.
type Match struct {
	// Name is the signature name ("Eicar-Signature").
	Name string
	// Kind says which kind of signature matched: hash, section-hash, body or logical.
	Kind string
	// PUA is true for potentially unwanted applications: signatures from
	// the .hdu/.hsu/.mdu/.msu/.ndu/.ldu files or named PUA.*.
	PUA bool
}

// Target is a file to match.
type Target struct {
	// Data is the file's content (or its beginning when Truncated).
	Data      []byte
	Size      int64
	Truncated bool
	// Hash returns the file's digest of a kind; the caller computes each
	// kind once. Nil when Truncated (no whole-file hash is known).
	Hash func(HashKind) []byte
}

// Scan returns the signatures that match t, in database order.
func (db *DB) Scan(t *Target) []Match {
	var out []Match
	if t.Hash != nil && !t.Truncated {
		out = db.files.lookup(t.Size, t.Hash, out, "hash")
		if len(out) > 0 && db.allow.len() > 0 && len(db.allow.lookup(t.Size, t.Hash, nil, "")) > 0 {
			return nil // listed as a false positive
		}
	}
	if db.sections.len() > 0 && !t.Truncated {
		out = append(out, db.sectionMatches(t.Data)...)
	}
	out = append(out, db.body.scan(t, db.logical)...)
	if len(db.ignore) > 0 {
		kept := out[:0]
		for _, m := range out {
			if !db.ignore[m.Name] {
				kept = append(kept, m)
			}
		}
		out = kept
	}
	return out
}

// NeedsHash reports whether a file of this size could match a hash
// signature of kind k, so callers hash only what can match.
func (db *DB) NeedsHash(k HashKind, size int64) bool {
	return db.files.sizeWanted(k, size)
}

// Wants reports whether a file of size bytes (negative: unknown) could
// match a signature: any file could match a body, logical or PE section
// signature; only a file of a size some hash signature names could match
// a hash signature.
func (db *DB) Wants(size int64) bool {
	if len(db.body.sigs) > 0 || len(db.logical) > 0 || db.sections.len() > 0 {
		return true
	}
	if size < 0 {
		return db.files.len() > 0
	}
	for k := range numKinds {
		if db.files.sizeWanted(k, size) {
			return true
		}
	}
	return false
}

// HasHashes reports whether any whole-file hash signature is loaded.
func (db *DB) HasHashes() bool { return db.files.len() > 0 }
