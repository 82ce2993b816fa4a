package shadow

import (
	"fmt"
	"strconv"
	"strings"
)

// Hashes from an image are untrusted: their cost parameters could ask for
// hours of CPU or gigabytes of memory per guess. Hashes costlier than
// these bounds are not guessed. The bounds are far above what the
// distributions write (bcrypt cost 5 to 12, 5000 SHA-crypt rounds,
// yescrypt N=4096 r=32: 16 MiB).
const (
	maxBcryptCost     = 14
	maxSHACryptRounds = 1_000_000
	maxYescryptBytes  = 64 << 20
)

// tooCostly says why hash, of scheme, costs too much to guess, or "".
func tooCostly(scheme, hash string) string {
	switch scheme {
	case "bcrypt":
		// $2b$NN$...
		if len(hash) < 7 || hash[6] != '$' {
			return "malformed bcrypt hash"
		}
		cost, err := strconv.Atoi(hash[4:6])
		if err != nil {
			return "malformed bcrypt hash"
		}
		if cost > maxBcryptCost {
			return fmt.Sprintf("bcrypt cost %d is above %d", cost, maxBcryptCost)
		}
	case "sha512crypt", "sha256crypt":
		// $6$rounds=N$salt$hash; without rounds= the cost is 5000.
		rest, ok := strings.CutPrefix(hash[3:], "rounds=")
		if !ok {
			return ""
		}
		n, _, _ := strings.Cut(rest, "$")
		rounds, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			return "malformed rounds in " + scheme + " hash"
		}
		if rounds > maxSHACryptRounds {
			return fmt.Sprintf("%s with %d rounds is above %d", scheme, rounds, maxSHACryptRounds)
		}
	case "yescrypt":
		// $y$<flavor><N><r>[...]$salt$hash, each parameter in crypt's
		// base-64 alphabet. Only the common short form, one character
		// each, is decoded: N = 2^(value+1), r = value+1; anything else
		// is not guessed.
		params, _, _ := strings.Cut(hash[3:], "$")
		if len(params) != 3 {
			return "yescrypt parameters " + strconv.Quote(params) + " not recognised"
		}
		nlog, r := itoa64(params[1]), itoa64(params[2])
		// Values of 48 and above start longer encodings.
		if nlog < 0 || r < 0 || nlog >= 48 || r >= 48 {
			return "yescrypt parameters " + strconv.Quote(params) + " not recognised"
		}
		nlog, r = nlog+1, r+1
		if nlog > 30 || (int64(128)*int64(r))<<nlog > maxYescryptBytes {
			return fmt.Sprintf("yescrypt with N=2^%d r=%d needs more than %d MiB per guess", nlog, r, maxYescryptBytes>>20)
		}
	}
	return ""
}

// itoa64 decodes one character of crypt's base-64 alphabet, -1 if none.
func itoa64(c byte) int {
	const alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	return strings.IndexByte(alphabet, c)
}
