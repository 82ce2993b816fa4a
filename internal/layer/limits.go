// Package layer streams one image layer exactly once, writing to disk only
// the files too large for memory (see spill): it detects the compression by content, enforces limits on bytes,
// entries and path shapes, turns whiteouts into an index, and hands each
// entry to the analyzers that want it. It also builds the final filesystem
// view of an image from the per-layer indexes.
package layer

// Limits bound the work done on one layer. The zero value of a field means
// its default.
type Limits struct {
	// MaxFileBytes is how many bytes of one file are read for analysis.
	// A file above the in-memory budget (32 MiB) is read through a
	// temporary file mapped into memory, so this bound costs disk space
	// (one file per parallel walk), not heap.
	MaxFileBytes int64
	// MaxLayerBytes is how many uncompressed bytes one layer may hold.
	MaxLayerBytes int64
	// MaxEntries is how many tar entries one layer may hold.
	MaxEntries int
	// MaxPathDepth is how many path elements an entry name may have.
	MaxPathDepth int
	// MaxPathBytes is how long an entry name may be.
	MaxPathBytes int
}

// Defaults for Limits.
const (
	DefaultMaxFileBytes  = 512 << 20
	DefaultMaxLayerBytes = 16 << 30
	DefaultMaxEntries    = 1_000_000
	DefaultMaxPathDepth  = 256
	DefaultMaxPathBytes  = 4096
)

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxLayerBytes <= 0 {
		l.MaxLayerBytes = DefaultMaxLayerBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxPathDepth <= 0 {
		l.MaxPathDepth = DefaultMaxPathDepth
	}
	if l.MaxPathBytes <= 0 {
		l.MaxPathBytes = DefaultMaxPathBytes
	}
	return l
}
