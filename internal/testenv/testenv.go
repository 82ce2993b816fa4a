// Package testenv starts real components (a Docker Engine, containerd, a
// Podman service) for tests, once per test binary, with everything under a
// temporary directory. A component whose program is missing skips the test,
// unless the environment variable CI is "true": CI installs them all, so
// there a missing program fails the test.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Run runs the tests of m and then stops every component this package
// started. Use it from TestMain: os.Exit(testenv.Run(m)).
func Run(m *testing.M) int {
	code := m.Run()
	stopAll()
	return code
}

// service is one started component.
type service struct {
	once sync.Once
	addr string // socket address, "" when it could not start
	err  error  // why it could not start
	skip bool   // the program is missing (skip rather than fail, outside CI)
	proc *os.Process
	done chan struct{} // closed when the process has exited
	dir  string
	// attr, when set, replaces the process attributes start gives the
	// program (its own process group).
	attr *syscall.SysProcAttr
	// stopSignal asks the program to stop (SIGTERM when nil).
	stopSignal os.Signal
	// stopFn, when set, runs after the program has stopped.
	stopFn func()
}

var (
	mu       sync.Mutex
	started  []*service
	services = map[string]*service{}
)

func get(name string) *service {
	mu.Lock()
	defer mu.Unlock()
	s, ok := services[name]
	if !ok {
		s = &service{}
		services[name] = s
	}
	return s
}

func stopAll() {
	mu.Lock()
	defer mu.Unlock()
	for _, s := range started {
		s.stop()
	}
	started = nil
}

func (s *service) stop() {
	if s.proc != nil {
		sig := s.stopSignal
		if sig == nil {
			sig = syscall.SIGTERM
		}
		_ = s.proc.Signal(sig)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = s.proc.Kill()
			<-s.done
		}
	}
	if s.stopFn != nil {
		s.stopFn()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// unavailable skips or fails t because a component cannot be used.
func unavailable(t testing.TB, s *service, what string) {
	t.Helper()
	if s.skip && os.Getenv("CI") != "true" {
		t.Skipf("%s: %v (set CI=true to make this a failure)", what, s.err)
	}
	t.Fatalf("%s: %v", what, s.err)
}

// start runs the program with args (in which {dir} becomes the service's
// temporary directory), after prepare (when set) has written what the
// program needs there, and waits until its socket answers.
func (s *service) start(prog string, args []string, sock string, ready func(addr string) error, prepare func(dir string) error) {
	path, err := exec.LookPath(prog)
	if err != nil {
		s.err, s.skip = fmt.Errorf("%s is not installed (apt-get install the package listed in .ci/packages.txt)", prog), true
		return
	}
	if os.Geteuid() != 0 {
		s.err, s.skip = fmt.Errorf("%s needs root to run here", prog), true
		return
	}
	// Unix socket paths are short: keep the directory near the root.
	dir, err := os.MkdirTemp("", "customs-"+filepath.Base(prog)+"-")
	if err != nil {
		s.err = err
		return
	}
	mu.Lock()
	started = append(started, s) // removes the directory at the end
	mu.Unlock()
	s.dir = dir
	if prepare != nil {
		if s.err = prepare(dir); s.err != nil {
			return
		}
	}
	for i, a := range args {
		args[i] = string(bytes.ReplaceAll([]byte(a), []byte("{dir}"), []byte(dir)))
	}
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		s.err = err
		return
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = ownProcessGroup()
	if s.attr != nil {
		cmd.SysProcAttr = s.attr
	}
	if err := cmd.Start(); err != nil {
		s.err = err
		return
	}
	s.proc, s.done = cmd.Process, make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(s.done) }()
	sockPath := filepath.Join(dir, sock)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case <-s.done:
			s.err = fmt.Errorf("%s exited (%v); its log:\n%s", prog, waitErr, tail(filepath.Join(dir, "log")))
			return
		case <-time.After(200 * time.Millisecond):
		}
		if c, err := net.Dial("unix", sockPath); err == nil {
			c.Close()
			if ready(sockPath) == nil {
				s.addr = sockPath
				return
			}
		}
	}
	s.err = fmt.Errorf("%s did not become ready within a minute; its log:\n%s", prog, tail(filepath.Join(dir, "log")))
}

func tail(p string) string {
	b, _ := os.ReadFile(p)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// probeCtx bounds a readiness probe.
func probeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}
