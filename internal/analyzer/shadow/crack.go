package shadow

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"
)

// Budget bounds the time spent guessing passwords for one image. It is safe
// for concurrent use; the zero value has no time left.
type Budget struct {
	mu   sync.Mutex
	left time.Duration
}

// NewBudget returns a budget of d.
func NewBudget(d time.Duration) *Budget { return &Budget{left: d} }

// take reserves up to want of the remaining time and returns what it got.
func (b *Budget) take(want time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	got := min(want, b.left)
	b.left -= got
	return got
}

// giveBack returns unused time.
func (b *Budget) giveBack(d time.Duration) {
	if d > 0 {
		b.mu.Lock()
		b.left += d
		b.mu.Unlock()
	}
}

// crackResult is the outcome of guessing one hash.
type crackResult struct {
	// Password is the matching guess, "" if none matched.
	Password string
	// Tried counts the guesses checked; Exhausted is true when every
	// guess was checked.
	Tried     int
	Exhausted bool
}

// crack checks hash against the guesses with workers goroutines until one
// matches, the guesses run out, the time slice ends or ctx is done.
func crack(ctx context.Context, hash string, guesses []string, workers int, slice time.Duration) crackResult {
	ctx, cancel := context.WithTimeout(ctx, slice)
	defer cancel()
	workers = max(1, workers)
	var (
		mu    sync.Mutex
		next  int
		found = -1
		tried int
	)
	claim := func() int {
		mu.Lock()
		defer mu.Unlock()
		if found >= 0 || next >= len(guesses) || ctx.Err() != nil {
			return -1
		}
		next++
		return next - 1
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := newHasher()
			defer h.close()
			for i := claim(); i >= 0; i = claim() {
				got, err := h.hash(guesses[i], hash)
				mu.Lock()
				tried++
				if err == nil && subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1 && (found < 0 || i < found) {
					found = i
				}
				mu.Unlock()
				if err != nil {
					return // the scheme or its parameters are not supported
				}
			}
		}()
	}
	wg.Wait()
	r := crackResult{Tried: tried, Exhausted: tried == len(guesses)}
	if found >= 0 {
		r.Password = guesses[found]
	}
	return r
}
