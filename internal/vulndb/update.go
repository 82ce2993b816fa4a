package vulndb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultSource is the public OSV export bucket: <base>/<Ecosystem>/all.zip.
const DefaultSource = "https://osv-vulnerabilities.storage.googleapis.com"

// DefaultMaxDownload bounds one ecosystem's export zip.
const DefaultMaxDownload = 4 << 30

// UpdateOptions configure Update. The zero value downloads every ecosystem
// in UpdateEcosystems from DefaultSource.
type UpdateOptions struct {
	// Source is the base URL of an OSV export mirror.
	Source string
	// Ecosystems to fetch; empty means UpdateEcosystems.
	Ecosystems []string
	// Client makes the requests (default http.DefaultClient).
	Client *http.Client
	// MaxDownload bounds each zip (default DefaultMaxDownload).
	MaxDownload int64
	// Progress, when set, is told about each step.
	Progress func(msg string)
	// Now stamps the fetch time (default time.Now).
	Now func() time.Time
}

// Update downloads the export zip of each ecosystem, then rebuilds the
// affected sources of the database in dir and swaps the new database in.
// Nothing changes unless every download and import succeeds.
func Update(ctx context.Context, dir string, opt UpdateOptions) (*Builder, error) {
	if opt.Source == "" {
		opt.Source = DefaultSource
	}
	if len(opt.Ecosystems) == 0 {
		opt.Ecosystems = UpdateEcosystems
	}
	if opt.Client == nil {
		opt.Client = http.DefaultClient
	}
	if opt.MaxDownload <= 0 {
		opt.MaxDownload = DefaultMaxDownload
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := strings.TrimRight(opt.Source, "/")
	type fetched struct {
		eco, url, file string
		at             time.Time
	}
	var got []fetched
	defer func() {
		for _, f := range got {
			os.Remove(f.file)
		}
	}()
	for _, eco := range opt.Ecosystems {
		u := base + "/" + url.PathEscape(eco) + "/all.zip"
		opt.progress("downloading " + u)
		file, err := download(ctx, opt.Client, u, dir, opt.MaxDownload)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (the previous database is unchanged)", eco, err)
		}
		got = append(got, fetched{eco, u, file, opt.Now()})
	}
	var b *Builder
	err := Apply(ctx, dir, func(bb *Builder) error {
		b = bb
		for _, f := range got {
			opt.progress("importing " + f.eco)
			if err := bb.Begin(ctx, f.eco); err != nil {
				return err
			}
			skipped := bb.Skipped
			err := eachZipRecord(ctx, f.file, func(name string, data []byte) error {
				return bb.addFile(ctx, f.eco, f.eco+"/"+name, data)
			})
			if err != nil {
				return fmt.Errorf("%s: %w", f.eco, err)
			}
			if bb.Records(f.eco) == 0 {
				return noRecord(f.url, bb.Skipped-skipped, 0, bb)
			}
			if err := bb.End(ctx, f.eco, f.url, f.at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w (the previous database is unchanged)", err)
	}
	return b, nil
}

func (o UpdateOptions) progress(msg string) {
	if o.Progress != nil {
		o.Progress(msg)
	}
}

// download fetches u into a temporary file in dir, refusing more than max
// bytes and short bodies.
func download(ctx context.Context, c *http.Client, u, dir string, max int64) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if resp.ContentLength > max {
		return "", fmt.Errorf("GET %s: %d bytes, more than the %d-byte limit", u, resp.ContentLength, max)
	}
	f, err := os.CreateTemp(dir, "download-*.zip")
	if err != nil {
		return "", err
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > max {
		err = fmt.Errorf("more than the %d-byte limit", max)
	}
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
	}
	if err != nil {
		os.Remove(f.Name())
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("connection closed after %d bytes", n)
		}
		return "", fmt.Errorf("GET %s: %w", u, err)
	}
	return f.Name(), nil
}
