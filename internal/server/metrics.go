package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	reg      *prometheus.Registry
	scans    *prometheus.CounterVec
	running  prometheus.Gauge
	duration prometheus.Histogram
	// verdicts counts the image policy's decisions by enforcement point
	// and action.
	verdicts *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "customs_scans_total", Help: "Scans this process ran, by outcome (clean, findings, incomplete, error).",
		}, []string{"outcome"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{Name: "customs_scans_running", Help: "Scans running in this process."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "customs_scan_duration_seconds", Help: "Duration of the scans this process ran.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
		}),
	}
	m.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "customs_verdicts_total", Help: "Image policy decisions this process made, by enforcement point and action.",
	}, []string{"point", "action"})
	m.reg.MustRegister(m.scans, m.running, m.duration, m.verdicts, storeCollector{s})
	return m
}

// storeCollector reads the shared figures from the store at each scrape.
type storeCollector struct{ s *Server }

var (
	queueDesc  = prometheus.NewDesc("customs_queue_jobs", "Jobs in the queue, by queue and state.", []string{"queue", "state"}, nil)
	imagesDesc = prometheus.NewDesc("customs_images", "Stored images by their worst finding severity (NONE: no finding).", []string{"worst"}, nil)
	dbAgeDesc  = prometheus.NewDesc("customs_vulnerability_db_age_seconds", "Age of the oldest source of the vulnerability database scans match against.", nil, nil)
)

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- imagesDesc
	ch <- dbAgeDesc
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if depth, err := c.s.store.QueueDepth(ctx); err == nil {
		// Every queue and state has a series, zero when empty.
		n := map[[2]string]int{}
		for _, q := range []string{QueueScan, QueueSweep} {
			for _, st := range activeStates {
				n[[2]string{q, string(st)}] = 0
			}
		}
		for _, d := range depth {
			n[[2]string{d.Queue, d.State}] += d.Jobs
		}
		for k, v := range n {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(v), k[0], k[1])
		}
	}
	if by, err := c.s.store.ImagesByWorst(ctx); err == nil {
		for worst, n := range by {
			ch <- prometheus.MustNewConstMetric(imagesDesc, prometheus.GaugeValue, float64(n), worst)
		}
	}
	if c.s.pipe != nil {
		if db := c.s.pipe.Database(); db != nil && !db.Updated.IsZero() {
			ch <- prometheus.MustNewConstMetric(dbAgeDesc, prometheus.GaugeValue, time.Since(db.Updated).Seconds())
		}
	}
}
