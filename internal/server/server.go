// Package server is customs as a service: an HTTP API over the store
// (internal/store), and workers that run scan jobs from River's queue in
// the same database. One process does both by default (role all); with
// PostgreSQL, API processes and any number of workers share the work.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/pipeline"
	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// Roles of a server process.
const (
	RoleAll    = "all"
	RoleAPI    = "api"
	RoleWorker = "worker"
)

// Config configures a server.
type Config struct {
	// Listen is the API's address (default 127.0.0.1:8080).
	Listen string
	// TLSCert and TLSKey serve the API over TLS.
	TLSCert, TLSKey string
	// InsecureListen allows plain HTTP on a non-loopback address.
	InsecureListen bool
	// DataDir holds the embedded store, the layer cache and the
	// vulnerability database.
	DataDir string
	// Database is a postgres:// URL; empty for the embedded store.
	Database string
	// Role is RoleAll (default), RoleAPI or RoleWorker.
	Role string
	// HostName names this process's host in the store (default: the
	// machine's host name).
	HostName string
	// Workers is how many scans run at once (default 2).
	Workers int
	// RescueAfter is how long a scan may stay running before River takes
	// it for lost (its worker died) and runs it again elsewhere (default:
	// the job timeout plus 5 minutes). It must exceed the job timeout.
	RescueAfter time.Duration
	// VulnPoll is how often a worker checks the store for a newer
	// vulnerability database (default 10 s).
	VulnPoll time.Duration
	// KeepScans is how many scans of each image are kept (the latest
	// always is); older ones are pruned hourly. 0 keeps every scan.
	KeepScans int
	// KeepHistory is how long events and logged verdicts are kept; older
	// ones are pruned hourly. 0 keeps them all.
	KeepHistory time.Duration
	// LayerCacheMaxBytes bounds the shared layer cache in the store: the
	// least recently used layers beyond it are evicted hourly. 0: no bound.
	LayerCacheMaxBytes int64
	// ShutdownGrace is how long running scans may take to finish on
	// shutdown before they are cancelled and handed back (default 30 s).
	ShutdownGrace time.Duration
	// Pipeline configures scans; its CacheDir and Vuln.DBDir default to
	// directories under DataDir.
	Pipeline pipeline.Config
	// Watch names the local engines whose images this host scans (role
	// all or worker).
	Watch WatchConfig
	// SecretKeyFile holds the key registry credentials are encrypted
	// with (32 bytes, or 64 hex characters), readable by its owner only.
	// Without it, registries with credentials are refused.
	SecretKeyFile string
	// HarborPath is where Harbor's pluggable scanner API is served
	// (default /harbor: Harbor is given http(s)://HOST:PORT/harbor; "/"
	// serves it at the root).
	HarborPath string
	// HarborInsecure skips TLS certificate verification of the
	// registries Harbor's scan requests name.
	HarborInsecure bool
	// DockerAuthz runs a Docker Engine authorization plugin on this
	// host (role all or worker).
	DockerAuthz DockerAuthzConfig
	// SweepCheck is how often a worker looks for registries due a sweep
	// (default 30 s).
	SweepCheck time.Duration
	// DBUpdateEvery runs `customs db update` into the store this often
	// (0: never), with DBUpdate's source and ecosystems.
	DBUpdateEvery time.Duration
	DBUpdate      vulndb.UpdateOptions
	// Admission configures the Kubernetes admission webhook.
	Admission AdmissionConfig
	// Logger receives structured logs (default: text on stderr).
	Logger *slog.Logger
	// Console, when set, makes the web console served at / (the API
	// stays under /api/v1).
	Console func(*Server) http.Handler
}

// SessionCookie is the cookie holding a web console session's secret; a
// GET to the API may carry it instead of a bearer token.
const SessionCookie = "customs_session"

// Server is a configured service.
type Server struct {
	cfg     Config
	store   *store.Store
	pipe    *pipeline.Pipeline
	jobs    jobClient
	watches []*engineWatch
	metrics *metrics
	log     *slog.Logger
	http    *http.Server
	// key encrypts registry credentials (nil: none can be stored).
	key []byte
	// pols caches the parsed image policy in force.
	pols policies
}

func (c *Config) defaults() error {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	switch c.Role {
	case "":
		c.Role = RoleAll
	case RoleAll, RoleAPI, RoleWorker:
	default:
		return fmt.Errorf("--role %q: want all, api or worker", c.Role)
	}
	if c.Role != RoleAll && !store.IsPostgres(c.Database) {
		return fmt.Errorf("--role %s needs a shared database (--database postgres://...): the embedded store serves one process", c.Role)
	}
	if c.HostName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("host name: %w (pass --host-name)", err)
		}
		c.HostName = h
	}
	if c.DockerAuthz.Socket != "" && c.Role == RoleAPI {
		return errors.New("--role api runs no scans: run the Docker authorization plugin with role all or worker, on the engine's host")
	}
	if c.Watch.enabled() && c.Role == RoleAPI {
		return errors.New("--role api runs no scans: watch local engines with role all or worker")
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Pipeline.Timeout <= 0 {
		c.Pipeline.Timeout = 30 * time.Minute
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = c.jobTimeout() + 5*time.Minute
	}
	if c.RescueAfter <= c.jobTimeout() {
		return fmt.Errorf("--rescue-after %s: a scan may run for --timeout %s, so it is lost only after longer than %s", c.RescueAfter, c.Pipeline.Timeout, c.jobTimeout())
	}
	if c.VulnPoll <= 0 {
		c.VulnPoll = 10 * time.Second
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 30 * time.Second
	}
	if c.DBUpdateEvery != 0 && c.DBUpdateEvery < time.Minute {
		return fmt.Errorf("--db-update-every %s: want at least 1m, or 0 for never", c.DBUpdateEvery)
	}
	if c.SweepCheck <= 0 {
		c.SweepCheck = 30 * time.Second
	}
	if err := c.harborDefaults(); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if c.DataDir == "" {
		return errors.New("no --data-dir")
	}
	if c.Pipeline.CacheDir == "" && !c.Pipeline.NoCache {
		c.Pipeline.CacheDir = filepath.Join(c.DataDir, "cache")
	}
	if c.Pipeline.Vuln.DBDir == "" {
		c.Pipeline.Vuln.DBDir = filepath.Join(c.DataDir, "db")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.Role != RoleWorker {
		return CheckListen(c.Listen, c.TLSCert != "", c.InsecureListen)
	}
	return nil
}

// jobTimeout is when River cancels a scan job: the scan's own timeout
// with a tenth more (at least a second) for storing its report.
func (c *Config) jobTimeout() time.Duration {
	return c.Pipeline.Timeout + max(time.Second, c.Pipeline.Timeout/10)
}

// CheckListen refuses plain HTTP on an address other machines can reach,
// unless insecure: tokens and reports would cross the network in clear.
func CheckListen(addr string, tls, insecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if tls || insecure {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--listen %s is reachable from other machines: serve it over TLS (--tls-cert, --tls-key) or pass --insecure-listen", addr)
}

// New opens the store (migrating it), the scan pipeline (unless the role
// is api) and the job queue.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := checkPullSecretsDir(cfg.Admission.PullSecretsDir); err != nil {
		return nil, err
	}
	var key []byte
	if cfg.SecretKeyFile != "" {
		k, err := loadSecretKey(cfg.SecretKeyFile)
		if err != nil {
			return nil, err
		}
		key = k
	}
	st, err := store.Open(ctx, cfg.Database, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: st, log: cfg.Logger, key: key}
	if err := st.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if cfg.Role != RoleAPI {
		// Layer results are shared through the store: a layer one worker
		// analysed is never analysed again by another.
		pc := cfg.Pipeline
		pc.SharedCache, pc.Worker = st.LayerCache(), cfg.HostName
		// Scans match against the store's vulnerability database.
		if s.storedVulnDB() {
			if _, _, err := st.FetchVulnDB(ctx, pc.Vuln.DBDir); err != nil {
				s.Close()
				return nil, fmt.Errorf("vulnerability database from %s: %w", st.Where, err)
			}
		}
		if s.pipe, err = pipeline.New(ctx, pc); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.metrics = newMetrics(s)
	if cfg.Watch.enabled() {
		if s.watches, err = newWatches(s); err != nil {
			s.Close()
			return nil, err
		}
	}
	if s.jobs, err = newJobClient(s); err != nil {
		s.Close()
		return nil, err
	}
	if cfg.Role != RoleWorker {
		s.http = &http.Server{Addr: cfg.Listen, Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	}
	return s, nil
}

// Store returns the server's store.
func (s *Server) Store() *store.Store { return s.store }

// Run serves until ctx ends, then shuts down gracefully: the API stops
// taking requests, running scans get ShutdownGrace to finish and are
// then cancelled, and River hands unfinished jobs to another worker (or
// to this one after a restart).
func (s *Server) Run(ctx context.Context) error {
	if s.http == nil {
		return s.Serve(ctx, nil)
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	if ln, err = s.secure(ln); err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// secure serves ln over TLS when the server has a certificate; on error
// ln is closed.
func (s *Server) secure(ln net.Listener) (net.Listener, error) {
	if s.cfg.TLSCert == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// Serve is Run on a listener of the caller's (nil for a worker).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// The queue stops when shutdown says so, not when ctx ends. An API
	// process only inserts jobs: its client is not started.
	if s.pipe != nil {
		if err := s.jobs.Start(context.WithoutCancel(ctx)); err != nil {
			if ln != nil {
				ln.Close()
			}
			return fmt.Errorf("job queue: %w", err)
		}
		go s.scheduleSweeps(ctx)
	}
	errc := make(chan error, 2)
	if s.pipe != nil {
		go s.pruneEvery(ctx, time.Hour)
	}
	if s.pipe != nil && s.storedVulnDB() {
		// Images stored while no server ran are brought up to the
		// database now.
		s.queueRematch(ctx, s.pipe.VulnGeneration(), 0)
		go s.followVulnDB(ctx)
	}
	if ln != nil && s.http != nil {
		s.log.Info("listening", "addr", ln.Addr().String(), "role", s.cfg.Role, "store", s.store.Where)
		go func() { errc <- s.http.Serve(ln) }()
	} else {
		s.log.Info("working", "role", s.cfg.Role, "store", s.store.Where, "host", s.cfg.HostName)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		if len(s.watches) > 0 {
			s.watchEngines(watchCtx)
		}
	}()
	authorizing := make(chan struct{})
	go func() {
		defer close(authorizing)
		if s.cfg.DockerAuthz.Socket != "" {
			if err := s.serveDockerAuthz(watchCtx); err != nil {
				errc <- fmt.Errorf("docker authorization plugin: %w", err)
			}
		}
	}()
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = err
		}
	}
	stopWatch()
	<-watching
	<-authorizing
	return errors.Join(runErr, s.shutdown())
}

// storedVulnDB reports whether scans match against the store's
// vulnerability database (not the bundled sample).
func (s *Server) storedVulnDB() bool {
	return s.cfg.Pipeline.Vuln.DBDir != vulndb.SampleName && s.wantsVuln()
}

func (s *Server) wantsVuln() bool {
	return len(s.cfg.Pipeline.Scanners) == 0 || slices.Contains(s.cfg.Pipeline.Scanners, all.ScannerVuln)
}

// followVulnDB checks the store every VulnPoll for a newer vulnerability
// database (published by `customs db update` or `db import` with the
// server's --data-dir or --database) and switches scans to it.
func (s *Server) followVulnDB(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.VulnPoll):
		}
		if err := s.reloadVulnDB(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("vulnerability database", "error", err)
		}
	}
}

// reloadVulnDB fetches the store's vulnerability database when its
// generation is not the one scans use, and reloads it.
func (s *Server) reloadVulnDB(ctx context.Context) error {
	gen, err := s.store.VulnDBGeneration(ctx)
	prev := s.pipe.VulnGeneration()
	if err != nil || gen == 0 || gen == prev {
		return err
	}
	dir := s.cfg.Pipeline.Vuln.DBDir
	if _, _, err := s.store.FetchVulnDB(ctx, dir); err != nil {
		return err
	}
	if err := s.pipe.ReloadVuln(ctx, dir); err != nil {
		return err
	}
	s.log.Info("vulnerability database reloaded", "generation", s.pipe.VulnGeneration())
	s.queueRematch(ctx, s.pipe.VulnGeneration(), prev)
	return nil
}

// pruneEvery prunes the scan history, the events, the verdict log and the
// shared layer cache now and then every interval, until ctx ends.
func (s *Server) pruneEvery(ctx context.Context, interval time.Duration) {
	for {
		s.prune(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (s *Server) shutdown() error {
	s.log.Info("shutting down", "grace", s.cfg.ShutdownGrace)
	var errs []error
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, s.http.Shutdown(ctx))
		cancel()
	}
	if s.pipe == nil {
		return errors.Join(errs...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := s.jobs.Stop(ctx); err != nil {
		// Scans still running are cancelled; River retries them.
		errs = append(errs, s.jobs.StopAndCancel(context.Background()))
	}
	return errors.Join(errs...)
}

// Close releases the pipeline and the store.
func (s *Server) Close() error {
	var errs []error
	if s.pipe != nil {
		errs = append(errs, s.pipe.Close())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}
