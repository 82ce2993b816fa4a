//go:build !cgo

package shadow

import "errors"

// hasher is unavailable without cgo: libxcrypt is reached through cgo.
type hasher struct{}

// cryptAvailable reports whether this build can compute crypt(3) hashes.
const cryptAvailable = false

func newHasher() *hasher { return &hasher{} }

func (h *hasher) close() {}

func (h *hasher) hash(string, string) (string, error) {
	return "", errors.New("built without cgo: crypt(3) unavailable")
}
