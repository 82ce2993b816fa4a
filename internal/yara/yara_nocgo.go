//go:build !cgo

package yara

// Available reports whether this build can compile and run YARA rules:
// libyara is reached through cgo, so a build without cgo has no YARA.
const Available = false

// compiled is empty: there is no YARA engine in this build.
type compiled struct{}

func compile([]source) (compiled, error) { return compiled{}, ErrUnavailable }

func (compiled) scan([]byte) ([]Match, error) { return nil, ErrUnavailable }
