package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testenv/distreg"
	"github.com/customs-scanner/customs/internal/testimage"
)

// workerEnv, set to a database URL, makes the test binary a worker
// process of that database (see TestMain).
const workerEnv = "CUSTOMS_TEST_WORKER_DSN"

// workerBenchEnv, set, gives a worker process the server's default
// timeouts (benchmarks) instead of the short ones of the kill test.
const workerBenchEnv = "CUSTOMS_TEST_WORKER_BENCH"

// runWorker runs a worker until SIGTERM, with its data under
// $CUSTOMS_TEST_WORKER_DIR.
func runWorker(dsn string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg := newConfig(os.Getenv("CUSTOMS_TEST_WORKER_DIR"), dsn)
	cfg.Role, cfg.HostName = RoleWorker, os.Getenv("CUSTOMS_TEST_WORKER_NAME")
	if os.Getenv(workerBenchEnv) == "" {
		// Short timeouts, so a killed worker's scans are rescued soon.
		cfg.Pipeline.Timeout = 4 * time.Second
		cfg.RescueAfter = 6 * time.Second
		cfg.Pipeline.SharedLease = 2 * time.Second
	}
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
	app := distreg.Handler(t, "")
	return distreg.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			time.Sleep(delay)
		}
		app.ServeHTTP(w, r)
	}))
}

// startWorker starts the test binary as a worker process.
func startWorker(t testing.TB, dsn, name string) *exec.Cmd {
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
// API process and scan a registry of 30 images that share a base layer;
// one is killed with SIGKILL while scanning, and every scan still ends
// succeeded, run again by the other; every distinct layer was analysed
// once across both.
func TestWorkerKilled(t *testing.T) {
	dsn := testenv.Postgres(t)
	reg := slowRegistry(t, 400*time.Millisecond)
	base := testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"))
	var refs []string
	const images = 30
	for i := range images {
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
	startWorker(t, dsn, "survivor")
	// Kill the doomed worker once both have stored scans and it holds a
	// running one.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var stored, running int
		if err := api.store.QueryRow(ctx, `SELECT COUNT(DISTINCT worker) FROM scan`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if err := api.store.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE state = 'running'
			AND attempted_by[array_length(attempted_by, 1)] LIKE 'doomed-%'`).Scan(&running); err != nil {
			t.Fatal(err)
		}
		if stored == 2 && running > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers never both scanned (%d stored scans) with one running on the doomed one", stored)
		}
	}
	if err := doomed.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = doomed.Wait()
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
	// A shared base and one layer per image: each was analysed once
	// across both workers, whoever died.
	stats, err := api.store.LayerCacheStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Entries != images+1 || stats.Puts != images+1 {
		t.Errorf("layer cache: %+v, want %d entries put once each", stats, images+1)
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
	if len(workers) != 2 {
		t.Errorf("scans stored by %v, want both workers", workers)
	}
}
