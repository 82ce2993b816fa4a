package analyzer

import (
	"fmt"
	"runtime/debug"
)

// background is the work analyzers started for one layer's result that
// has not been applied to it yet, in the order it was started.
type background struct {
	pending []chan func(*Result)
}

// InBackground makes the work later handed to Go run in the background,
// until Wait. The engine calls it before walking a layer.
func (r *Result) InBackground() { r.bg = &background{} }

// Go runs work that an analyzer need not finish before the engine reads the
// next file (guessing passwords, say): in the background when the engine
// asked for it (InBackground), else at once. work must only use what it was
// given (never r); the function it returns is applied to r by Wait, in the
// order the work was started, so the layer's result does not depend on
// which work ends first. Go is called from Analyze; a panic in work becomes
// a warning on the file at path naming the analyzer who.
func (r *Result) Go(path, who string, work func() func(*Result)) {
	if r.bg == nil {
		safely(path, who, work)(r)
		return
	}
	done := make(chan func(*Result), 1)
	r.bg.pending = append(r.bg.pending, done)
	go func() { done <- safely(path, who, work) }()
}

// Wait waits for the work started with Go and applies its outcomes to r.
func (r *Result) Wait() {
	bg := r.bg
	r.bg = nil
	if bg == nil {
		return
	}
	for _, done := range bg.pending {
		(<-done)(r)
	}
}

// safely runs work, turning a panic into a warning.
func safely(path, who string, work func() func(*Result)) (apply func(*Result)) {
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprintf("%s: analyzer panicked: %v\n%s", who, p, debug.Stack())
			apply = func(r *Result) { r.Warn(path, msg) }
		}
	}()
	return work()
}
