package analyzer

import (
	"regexp"
	"sync"
)

// Regexp returns a function that compiles expr the first time it is called
// and returns the same *regexp.Regexp after. A pattern compiled when its
// package is initialised costs every start of the program, a rescan served
// whole from the cache included, whether or not it is ever used.
func Regexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
