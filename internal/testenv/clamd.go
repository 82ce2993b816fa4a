package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Clamd starts ClamAV's daemon (Debian package clamav-daemon) for one test,
// with a database directory holding sigs (file name to content, e.g.
// "test.hdb") and a Unix socket under a temporary directory, and returns the
// socket path. It is stopped when the test ends. Unlike the other
// components it is not shared: each test brings its own signatures.
func Clamd(t testing.TB, sigs map[string][]byte) string {
	t.Helper()
	prog, err := exec.LookPath("clamd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/clamd"); err2 == nil {
			prog = "/usr/sbin/clamd"
		} else {
			unavailable(t, &service{err: fmt.Errorf("clamd is not installed (apt-get install clamav-daemon)"), skip: true}, "clamd")
		}
	}
	dir, err := os.MkdirTemp("", "customs-clamd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, b := range sigs {
		if err := os.WriteFile(filepath.Join(db, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "clamd.sock")
	conf := fmt.Sprintf("DatabaseDirectory %s\nLocalSocket %s\nForeground yes\nLogFile %s/log\nPidFile %s/pid\nTemporaryDirectory %s\nStreamMaxLength 1M\n", db, sock, dir, dir, dir)
	if os.Geteuid() == 0 {
		conf += "User root\n"
	}
	cfg := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog, "--config-file="+cfg)
	cmd.SysProcAttr = ownProcessGroup()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case <-done:
			t.Fatalf("clamd exited; its log:\n%s", tail(filepath.Join(dir, "log")))
		case <-time.After(200 * time.Millisecond):
		}
		if c, err := net.Dial("unix", sock); err == nil {
			fmt.Fprint(c, "zPING\x00")
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			reply, _ := bufio.NewReader(c).ReadString(0)
			c.Close()
			if reply == "PONG\x00" {
				return sock
			}
		}
	}
	t.Fatalf("clamd did not answer within a minute; its log:\n%s", tail(filepath.Join(dir, "log")))
	return ""
}
