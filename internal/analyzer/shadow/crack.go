package shadow

import (
	"context"
	"runtime"
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

// CPU bounds the CPU time spent guessing, summed over the workers, so that
// the bound holds however busy the machine is. It is safe for concurrent
// use; a nil *CPU has no bound.
type CPU struct {
	mu    sync.Mutex
	limit time.Duration
	used  time.Duration
}

// NewCPU returns a CPU bound of d.
func NewCPU(d time.Duration) *CPU { return &CPU{limit: d} }

func (c *CPU) spent() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used >= c.limit
}

func (c *CPU) spend(d time.Duration) {
	if c != nil {
		c.mu.Lock()
		c.used += d
		c.mu.Unlock()
	}
}

// Used returns the CPU time spent so far.
func (c *CPU) Used() time.Duration {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// crackResult is the outcome of guessing one hash.
type crackResult struct {
	// Found is true when guess number Index matched.
	Found bool
	Index int
	// Tried counts the guesses checked by this call.
	Tried int
	// Next is where a later call resumes: every guess before it has been
	// checked (by this call or, before start, by an earlier one).
	Next int
	// Complete is true when the hash is judged: a guess matched or every
	// guess was checked.
	Complete bool
	// Err is set when the hash could not be checked at all (its scheme or
	// parameters are not supported): the judgement is then final too.
	Err error
}

// Password is the matching guess, "" if none matched.
func (r crackResult) password(guesses []string) string {
	if !r.Found || r.Index >= len(guesses) {
		return ""
	}
	return guesses[r.Index]
}

// crack checks hash against guesses[start:] with workers goroutines until
// one matches, the guesses run out, the time slice ends, cpu is spent or
// ctx is done.
func crack(ctx context.Context, hash string, guesses []string, start, workers int, slice time.Duration, cpu *CPU) crackResult {
	ctx, cancel := context.WithTimeout(ctx, slice)
	defer cancel()
	workers = max(1, min(workers, len(guesses)-start))
	start = max(0, min(start, len(guesses)))
	var (
		mu     sync.Mutex
		next   = start
		found  = -1
		tried  int
		failed error
		done   = make([]bool, len(guesses))
	)
	claim := func() int {
		mu.Lock()
		defer mu.Unlock()
		if found >= 0 || failed != nil || next >= len(guesses) || ctx.Err() != nil || cpu.spent() {
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
			// One thread per worker, so that its CPU time is the
			// hashing's.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			h := newHasher()
			defer h.close()
			for i := claim(); i >= 0; i = claim() {
				wall := time.Now()
				c0, known := threadCPU()
				ok, err := h.check(guesses[i], hash)
				if c1, _ := threadCPU(); known {
					cpu.spend(c1 - c0)
				} else {
					cpu.spend(time.Since(wall))
				}
				mu.Lock()
				if err != nil {
					// The scheme or its parameters are not supported.
					failed = err
				} else {
					tried++
					done[i] = true
					if ok && (found < 0 || i < found) {
						found = i
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r := crackResult{Tried: tried, Next: start, Err: failed}
	for r.Next < len(guesses) && done[r.Next] {
		r.Next++
	}
	switch {
	case found >= 0:
		// A match judges the hash, whether or not earlier guesses were
		// all checked.
		r.Found, r.Index, r.Complete = true, found, true
	case failed != nil:
		r.Complete = true
	default:
		r.Complete = r.Next == len(guesses)
	}
	return r
}
