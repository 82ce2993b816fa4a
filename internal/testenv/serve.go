package testenv

import (
	"context"
	"net"
	"sync"
	"testing"
)

// Server serves on a listener until its context ends and is then closed:
// customs' own server is one.
type Server interface {
	Serve(ctx context.Context, ln net.Listener) error
	Close() error
}

// Listen returns a TCP listener on a free 127.0.0.1 port.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Serve runs srv on ln until t ends or stop is called, whichever comes
// first; then it ends Serve's context, waits for Serve to return (an error
// fails t) and closes srv.
func Serve(t testing.TB, srv Server, ln net.Listener) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			srv.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}
