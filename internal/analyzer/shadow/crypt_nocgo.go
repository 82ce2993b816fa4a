//go:build !cgo || !linux

package shadow

import (
	"errors"

	"golang.org/x/crypto/bcrypt"
)

// Without cgo (or off Linux) there is no libxcrypt: bcrypt hashes are
// checked with golang.org/x/crypto/bcrypt, and the other schemes
// (yescrypt, sha512crypt, ...) are not guessed; the analyzer says so.

// hasher checks bcrypt hashes in pure Go.
type hasher struct{}

// cryptEngine names the implementation of this build, for cache keys and
// warnings.
const cryptEngine = "go"

// supported reports whether this build can check passwords against hashes
// of scheme.
func supported(scheme string) bool { return scheme == "bcrypt" }

func newHasher() *hasher { return &hasher{} }

func (h *hasher) close() {}

var errScheme = errors.New("hash scheme not supported without libxcrypt (built without cgo)")

// check reports whether password matches hash. An error means the scheme or
// its parameters are not supported.
func (h *hasher) check(password, hash string) (bool, error) {
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	case errors.Is(err, bcrypt.ErrPasswordTooLong):
		// bcrypt reads at most 72 bytes; x/crypto refuses longer ones.
		return false, nil
	}
	return false, errScheme
}
