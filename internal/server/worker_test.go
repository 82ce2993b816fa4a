package server

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sirupsen/logrus"

	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
)

// workerEnv, set to a database URL, makes the test binary a worker
// process of that database (see TestMain).
const workerEnv = "CUSTOMS_TEST_WORKER_DSN"

// runWorker runs a worker until SIGTERM, with its data under
// $CUSTOMS_TEST_WORKER_DIR.
func runWorker(dsn string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg := newConfig(os.Getenv("CUSTOMS_TEST_WORKER_DIR"), dsn)
	cfg.Role, cfg.HostName = RoleWorker, os.Getenv("CUSTOMS_TEST_WORKER_NAME")
	cfg.Pipeline.Timeout = 4 * time.Second
	cfg.RescueAfter = 6 * time.Second
	cfg.Pipeline.SharedLease = 2 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := New(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	if err := s.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// slowRegistry is the reference registry, answering blob requests after
// a delay so that scans are caught running.
func slowRegistry(t *testing.T, delay time.Duration) string {
	t.Helper()
	logrus.SetLevel(logrus.PanicLevel)
	cfg, err := configuration.Parse(strings.NewReader("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: " +
		t.TempDir() + "\nhttp:\n  addr: 127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	app := handlers.NewApp(context.Background(), cfg)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			time.Sleep(delay)
		}
		app.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// startWorker starts the test binary as a worker process.
func startWorker(t *testing.T, dsn, name string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+dsn, "CUSTOMS_TEST_WORKER_DIR="+t.TempDir(), "CUSTOMS_TEST_WORKER_NAME="+name)
	log, err := os.Create(t.TempDir() + "/" + name + ".log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s's log:\n%s", name, b)
		}
	})
	return cmd
}

// TestWorkerKilled: worker processes share a PostgreSQL database with an
// API process; one is killed with SIGKILL while scanning, and every scan
// still ends succeeded, run again by the other.
func TestWorkerKilled(t *testing.T) {
	dsn := testenv.Postgres(t)
	reg := slowRegistry(t, 700*time.Millisecond)
	base := testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"))
	var refs []string
	for i := range 6 {
		ref := fmt.Sprintf("%s/fleet/app%d:1", reg, i)
		push(t, ref, testimage.Image(t, v1.Config{}, base, testimage.Layer(t, testimage.File("srv/n", fmt.Sprint(i)))))
		refs = append(refs, ref)
	}
	ctx := context.Background()
	cfg := newConfig(t.TempDir(), dsn)
	cfg.Role = RoleAPI
	api, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	var ids []int64
	for _, ref := range refs {
		res, err := api.jobs.Insert(ctx, ScanArgs{Image: ref, PlainHTTP: true, Reason: "manual"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Job.ID)
	}
	doomed := startWorker(t, dsn, "doomed")
	// Kill it as soon as it holds a running scan.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var n int
		if err := api.store.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE state = 'running'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker never started a scan")
		}
	}
	if err := doomed.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = doomed.Wait()
	startWorker(t, dsn, "survivor")
	rescued := 0
	for _, id := range ids {
		var st *ScanStatus
		for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(300 * time.Millisecond) {
			if st, err = api.scanStatus(ctx, id); err != nil {
				t.Fatal(err)
			}
			if st.Status != StatusQueued && st.Status != StatusRunning {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("scan %d did not end: %+v", id, st)
			}
		}
		if st.Status != StatusSucceeded {
			t.Errorf("scan %d: %+v", id, st)
		}
		if st.Attempt > 1 {
			rescued++
		}
	}
	if rescued == 0 {
		t.Error("no scan was run again: the killed worker held none")
	}
	// Seven distinct layers (a shared base and one per image): each was
	// analysed once across both workers, whoever died.
	stats, err := api.store.LayerCacheStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Entries != 7 || stats.Puts != 7 {
		t.Errorf("layer cache: %+v, want 7 entries put once each", stats)
	}
	var workers []string
	rows, err := api.store.Query(ctx, `SELECT DISTINCT worker FROM scan ORDER BY worker`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var w string
		_ = rows.Scan(&w)
		workers = append(workers, w)
	}
	t.Logf("scans stored by %v", workers)
}
