package server

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// secretAAD binds sealed values to their use.
var secretAAD = []byte("customs registry credentials v1")

// loadSecretKey reads a 32-byte key: raw, or as 64 hex characters. The
// file must be readable by its owner only.
func loadSecretKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--secret-key-file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("--secret-key-file %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	if fi.Size() > 1024 {
		return nil, fmt.Errorf("--secret-key-file %s: want 32 bytes or 64 hex characters, got %d bytes", path, fi.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--secret-key-file: %w", err)
	}
	return parseSecretKey(data)
}

// parseSecretKey accepts 32 raw bytes or 64 hex characters (with an
// optional trailing newline).
func parseSecretKey(data []byte) ([]byte, error) {
	if t := bytes.TrimSpace(data); len(t) == 64 {
		if key, err := hex.DecodeString(string(t)); err == nil {
			return key, nil
		}
	}
	if len(data) == 32 {
		return data, nil
	}
	return nil, errors.New("the secret key must be 32 bytes or 64 hex characters (make one with `openssl rand -hex 32`)")
}

// credentials are a registry's, as sealed in the store or in a job:
// a user name and password, or a bearer token.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Token    string `json:"token,omitempty"`
}

// seal encrypts c with key (AES-256-GCM): nonce, then ciphertext.
func seal(key []byte, c credentials) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return sealBytes(key, secretAAD, plain)
}

// unseal decrypts what seal made.
func unseal(key, sealed []byte) (credentials, error) {
	var c credentials
	plain, err := openBytes(key, secretAAD, sealed)
	if err != nil {
		return c, fmt.Errorf("the registry's credentials: %w", err)
	}
	err = json.Unmarshal(plain, &c)
	return c, err
}

// sealBytes encrypts plain with key (AES-256-GCM), bound to aad: nonce,
// then ciphertext.
func sealBytes(key, aad, plain []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, aad), nil
}

// openBytes decrypts what sealBytes made with the same aad.
func openBytes(key, aad, sealed []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed value too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
	if err != nil {
		return nil, errors.New("does not open with this secret key (was --secret-key-file changed?)")
	}
	return plain, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, errors.New("no secret key (--secret-key-file)")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealJobAuth puts c in a scan job's arguments, sealed with the server's
// secret key (which the caller has made sure of) as the job is stored in
// the database, and with an ID that tells jobs of other credentials apart.
func (s *Server) sealJobAuth(args *ScanArgs, c credentials) error {
	sealed, err := seal(s.key, c)
	if err != nil {
		return err
	}
	args.Auth = base64.StdEncoding.EncodeToString(sealed)
	args.AuthID = credentialsID(s.key, c)
	return nil
}
