package shadow

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// A memo remembers how far guessing a hash got with a list, so that a hash
// already judged (the same hash string against the same list) is answered
// without hashing again, in any image: in the process, and across runs when
// the analyzer has a memo directory. A judgement cut short by time is kept
// too, as the point where the next attempt resumes.
//
// Entries hold positions in the list, never passwords, and are keyed by
// sha256(list id, hash): nothing in the directory reveals a password that
// the list does not already hold.

// memoEntry is what is remembered of one hash and list.
type memoEntry struct {
	// Next: every guess before it has been checked.
	Next int `json:"next"`
	// Match is the index of the matching guess, -1 for none.
	Match int `json:"match"`
	// Complete: the hash is judged (a match, or every guess checked).
	Complete bool `json:"complete"`
	// Unsupported: the hash cannot be checked (its scheme or parameters).
	Unsupported bool `json:"unsupported,omitempty"`
}

// listID identifies a list of guesses by its content.
func listID(mode string, guesses []string) string {
	h := sha256.New()
	for _, g := range guesses {
		h.Write([]byte(g))
		h.Write([]byte{0})
	}
	return mode + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// memoKey is the memo's key for hash checked against the list id.
func memoKey(hash, id string) string {
	s := sha256.Sum256([]byte(id + "\x00" + hash + "\x00" + cryptEngine))
	return hex.EncodeToString(s[:])
}

// process is the in-process memo, shared by every analyzer of the process.
var process sync.Map // memoKey → memoEntry

// memoMaxBytes bounds a memo file read back.
const memoMaxBytes = 1024

// memoGet returns what is remembered of key, from the process or from dir.
func memoGet(dir, key string, listLen int) (memoEntry, bool) {
	if v, ok := process.Load(key); ok {
		return v.(memoEntry), true
	}
	if dir == "" {
		return memoEntry{}, false
	}
	f, err := os.Open(filepath.Join(dir, key+".json"))
	if err != nil {
		return memoEntry{}, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, memoMaxBytes))
	if err != nil {
		return memoEntry{}, false
	}
	e := memoEntry{Match: -1}
	if json.Unmarshal(b, &e) != nil || e.Next < 0 || e.Next > listLen || e.Match >= listLen || e.Match < -1 ||
		(e.Complete && e.Match < 0 && !e.Unsupported && e.Next != listLen) {
		return memoEntry{}, false // damaged or from another list: ignore it
	}
	process.Store(key, e)
	return e, true
}

// memoPut remembers e for key, in the process and in dir. Failing to write
// the file only costs a later rehash.
func memoPut(dir, key string, e memoEntry) {
	process.Store(key, e)
	if dir == "" {
		return
	}
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), filepath.Join(dir, key+".json")) != nil {
		os.Remove(tmp.Name())
	}
}
