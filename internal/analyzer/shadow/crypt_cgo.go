//go:build cgo && linux

package shadow

/*
#cgo LDFLAGS: -lcrypt
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

static struct crypt_data *new_crypt_data(void) {
	return calloc(1, sizeof(struct crypt_data));
}

static int crypt_data_size(void) {
	return (int)sizeof(struct crypt_data);
}
*/
import "C"

import (
	"crypto/subtle"
	"errors"
	"unsafe"
)

// hasher computes crypt(3) hashes with libxcrypt, the implementation the
// distributions use to write /etc/shadow. One hasher serves one goroutine.
type hasher struct {
	data *C.struct_crypt_data
}

// cryptEngine names the implementation of this build, for cache keys and
// warnings.
const cryptEngine = "libxcrypt"

// supported reports whether this build can check passwords against hashes
// of scheme: libxcrypt knows every scheme crackable lists.
func supported(scheme string) bool { return crackable(scheme) }

func newHasher() *hasher {
	return &hasher{data: C.new_crypt_data()}
}

func (h *hasher) close() {
	if h.data != nil {
		C.free(unsafe.Pointer(h.data))
		h.data = nil
	}
}

var errCrypt = errors.New("crypt failed")

// check reports whether password matches hash. An error means the scheme or
// its parameters are not supported.
func (h *hasher) check(password, hash string) (bool, error) {
	got, err := h.hash(password, hash)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1, nil
}

// hash returns crypt(password, setting); setting is a full hash or its
// salt prefix.
func (h *hasher) hash(password, setting string) (string, error) {
	if h.data == nil {
		return "", errCrypt
	}
	p := C.CString(password)
	defer C.free(unsafe.Pointer(p))
	s := C.CString(setting)
	defer C.free(unsafe.Pointer(s))
	out := C.crypt_rn(p, s, unsafe.Pointer(h.data), C.crypt_data_size())
	if out == nil {
		return "", errCrypt
	}
	r := C.GoString(out)
	if r == "" || r[0] == '*' {
		return "", errCrypt
	}
	return r, nil
}
