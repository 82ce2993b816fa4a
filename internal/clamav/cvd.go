package clamav

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// HeaderSize is the size of a CVD or CLD header.
const HeaderSize = 512

// Header is the text header of a .cvd or .cld container:
// "ClamAV-VDB:build time:version:signatures:functionality level:MD5:digital signature:builder:build time (seconds)".
type Header struct {
	BuildTime     string
	Version       int
	Signatures    int
	Functionality int
	// MD5 is the hex MD5 of everything after the header.
	MD5     string
	Builder string
}

// ErrCorrupt marks a database container that cannot be trusted.
var ErrCorrupt = errors.New("corrupt ClamAV database container")

// ParseHeader reads the 512-byte header of a CVD or CLD.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: header shorter than %d bytes", ErrCorrupt, HeaderSize)
	}
	s := strings.TrimRight(string(b[:HeaderSize]), " \x00\n")
	f := strings.Split(s, ":")
	if len(f) < 8 || f[0] != "ClamAV-VDB" {
		return Header{}, fmt.Errorf("%w: not a ClamAV-VDB header", ErrCorrupt)
	}
	h := Header{BuildTime: f[1], MD5: strings.ToLower(f[5]), Builder: f[7]}
	var err error
	if h.Version, err = strconv.Atoi(f[2]); err != nil {
		return Header{}, fmt.Errorf("%w: version %q", ErrCorrupt, f[2])
	}
	if h.Signatures, err = strconv.Atoi(f[3]); err != nil {
		return Header{}, fmt.Errorf("%w: signature count %q", ErrCorrupt, f[3])
	}
	if h.Functionality, err = strconv.Atoi(f[4]); err != nil {
		return Header{}, fmt.Errorf("%w: functionality level %q", ErrCorrupt, f[4])
	}
	if _, err := hex.DecodeString(h.MD5); err != nil || len(h.MD5) != 32 {
		return Header{}, fmt.Errorf("%w: MD5 %q", ErrCorrupt, f[5])
	}
	return h, nil
}

// Container limits: a real main.cvd unpacks to a few hundred megabytes.
const (
	maxContainerBytes = 2 << 30
	maxMembers        = 10_000
)

// ReadContainer reads a .cvd (verify true: the header's MD5 must match the
// content) or a .cld (freshclam rewrites those, and ClamAV does not check
// their MD5) and calls fn for each regular member of its tar archive, gzip
// compressed or not. fn must consume the member before returning. The MD5
// is checked at the end: a caller must discard what fn saw when
// ReadContainer fails.
func ReadContainer(r io.Reader, verify bool, fn func(name string, member io.Reader) error) (Header, error) {
	hb := make([]byte, HeaderSize)
	if _, err := io.ReadFull(r, hb); err != nil {
		return Header{}, fmt.Errorf("%w: reading header: %v", ErrCorrupt, err)
	}
	h, err := ParseHeader(hb)
	if err != nil {
		return h, err
	}
	sum := md5.New()
	body := io.TeeReader(io.LimitReader(r, maxContainerBytes), sum)
	br := &peekReader{r: body}
	var plain io.Reader = br
	if magic, _ := br.peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return h, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		defer zr.Close()
		plain = io.LimitReader(zr, maxContainerBytes)
	}
	tr := tar.NewReader(plain)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return h, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if n >= maxMembers {
			return h, fmt.Errorf("%w: more than %d members", ErrCorrupt, maxMembers)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		if err := fn(path.Base(hdr.Name), tr); err != nil {
			return h, err
		}
	}
	// Hash whatever follows the archive too: the MD5 covers every byte.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return h, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if verify {
		if got := hex.EncodeToString(sum.Sum(nil)); got != h.MD5 {
			return h, fmt.Errorf("%w: content MD5 %s does not match the header's %s", ErrCorrupt, got, h.MD5)
		}
	}
	return h, nil
}

// peekReader lets the first bytes of a stream be looked at before reading.
type peekReader struct {
	r   io.Reader
	buf []byte
}

func (p *peekReader) peek(n int) ([]byte, error) {
	for len(p.buf) < n {
		b := make([]byte, n-len(p.buf))
		k, err := p.r.Read(b)
		p.buf = append(p.buf, b[:k]...)
		if err != nil {
			return p.buf, err
		}
	}
	return p.buf[:n], nil
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}
