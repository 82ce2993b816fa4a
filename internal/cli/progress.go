package cli

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/customs-scanner/customs/internal/scan"
)

// progress shows a scan's progress on standard error: a live bar of the
// layers analysed and the bytes read on a terminal, one plain line per
// finished layer otherwise, nothing with --quiet.
type progress struct {
	w        io.Writer
	terminal bool
	mu       sync.Mutex
	p        *mpb.Progress
	bar      *mpb.Bar
	bytes    map[int]int64 // layer -> bytes read so far
	read     atomic.Int64  // bytes read over all layers
	done     int
}

// newProgress returns nil with --quiet: the scan then reports nothing.
func newProgress(stderr io.Writer, quiet bool) *progress {
	if quiet {
		return nil
	}
	return &progress{w: stderr, terminal: isTerminal(stderr), bytes: map[int]int64{}}
}

// event takes one scan event.
func (g *progress) event(e scan.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e.Bytes > g.bytes[e.Layer] {
		g.read.Add(e.Bytes - g.bytes[e.Layer])
		g.bytes[e.Layer] = e.Bytes
	}
	if e.Done {
		g.done++
	}
	if !g.terminal {
		if e.Done {
			how := fmt.Sprintf("%s read", byteSize(e.Bytes))
			if e.Cached {
				how = "from the cache"
			}
			fmt.Fprintf(g.w, "layer %d/%d analysed (%s)\n", g.done, e.Total, how)
		}
		return
	}
	if g.bar == nil {
		g.p = mpb.New(mpb.WithOutput(g.w), mpb.WithWidth(30))
		g.bar = g.p.AddBar(int64(e.Total),
			mpb.PrependDecorators(decor.Name("analysing layers "), decor.CountersNoUnit("%d/%d")),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return byteSize(g.read.Load()) + " read" })))
	}
	if e.Done {
		g.bar.Increment()
	}
}

// finish removes the live display once the scan is over.
func (g *progress) finish() {
	if g == nil {
		return
	}
	g.mu.Lock()
	bar, p := g.bar, g.p
	g.mu.Unlock()
	if bar == nil {
		return
	}
	bar.Abort(true)
	p.Wait()
}

// byteSize formats n bytes for people.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
