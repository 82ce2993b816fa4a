package console

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/store"
)

// severities in order, worst first.
var severities = []model.Severity{model.Critical, model.High, model.Medium, model.Low, model.Unknown}

// barClasses are the classes the image list draws a bar for.
var barClasses = []model.Class{model.ClassVulnerability, model.ClassMalware, model.ClassSecret, model.ClassMisconfiguration}

var funcs = template.FuncMap{
	"short":      short,
	"when":       when,
	"ago":        ago,
	"since":      func(t *time.Time) string { return time.Since(*t).Round(time.Second).String() },
	"lower":      strings.ToLower,
	"itoa":       itoa,
	"bar":        bar,
	"barClasses": func() []model.Class { return barClasses },
	"severities": func() []model.Severity { return severities },
	"classes":    func() []model.Class { return store.Classes },
	"refName":    refName,
	"bytes":      humanBytes,
	"trendSVG":   trendSVG,
	"add":        func(a, b int) int { return a + b },
	"count": func(m map[model.Class]map[model.Severity]int, c model.Class, s model.Severity) int {
		return m[c][s]
	},
	"classLabel": classLabel,
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
}

func itoa(n int) string { return strconv.Itoa(n) }

// short is a digest's algorithm and first 12 hex digits.
func short(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return alg + ":" + hex[:12]
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// ago says how long before now t was, roughly.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func classLabel(c model.Class) string {
	switch c {
	case model.ClassVulnerability:
		return "Vulnerabilities"
	case model.ClassMalware:
		return "Malware"
	case model.ClassSecret:
		return "Secrets"
	case model.ClassMisconfiguration:
		return "Configuration"
	case model.ClassRegistry:
		return "Registry"
	case model.ClassIntegrity:
		return "Integrity"
	case model.ClassArchive:
		return "Archive"
	}
	return string(c)
}

// Segment is one severity's part of a bar.
type Segment struct {
	Severity string
	N        int
}

// Bar is the findings of one class by severity, worst first.
type Bar struct {
	Class    model.Class
	Segments []Segment
	// Label says it in words, for screen readers.
	Label string
}

func bar(sum store.Summary, c model.Class) Bar {
	b := Bar{Class: c}
	var words []string
	for _, s := range severities {
		if n := sum[string(c)][string(s)]; n > 0 {
			b.Segments = append(b.Segments, Segment{Severity: string(s), N: n})
			words = append(words, fmt.Sprintf("%d %s", n, strings.ToLower(string(s))))
		}
	}
	if len(words) == 0 {
		b.Label = classLabel(c) + ": none"
	} else {
		b.Label = classLabel(c) + ": " + strings.Join(words, ", ")
	}
	return b
}

// refName names an image by its first live reference, else its name.
func refName(im store.Image) string {
	for _, r := range im.Refs {
		if r.RemovedAt == nil && r.Repository != "" {
			if r.Tag != "" {
				return r.Repository + ":" + r.Tag
			}
			return r.Repository
		}
	}
	if im.Name != "" {
		return im.Name
	}
	return short(im.Digest)
}

// trendSVG draws findings per severity per day as lines: numbers only go
// into it, so it is safe as HTML.
func trendSVG(days []store.TrendDay) template.HTML {
	const w, h, left, bottom, top, right = 640, 220, 48, 28, 12, 12
	peak := 0
	for _, d := range days {
		for _, s := range severities {
			peak = max(peak, d.BySeverity[string(s)])
		}
	}
	scale := niceCeil(peak)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="trend" viewBox="0 0 %d %d" role="img" aria-labelledby="trend-title trend-desc" xmlns="http://www.w3.org/2000/svg">`, w, h)
	b.WriteString(`<title id="trend-title">Findings per severity, last 30 days</title>`)
	fmt.Fprintf(&b, `<desc id="trend-desc">%s</desc>`, trendWords(days))
	plotW, plotH := float64(w-left-right), float64(h-top-bottom)
	for i := 0; i <= 4; i++ {
		y := float64(top) + plotH*float64(i)/4
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, left, w-right, y, y)
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%d</text>`, left-6, y+4, scale*(4-i)/4)
	}
	x := func(i int) float64 {
		if len(days) <= 1 {
			return float64(left)
		}
		return float64(left) + plotW*float64(i)/float64(len(days)-1)
	}
	for i, d := range days {
		anchor := "middle"
		if i == len(days)-1 && i > 0 {
			anchor = "end"
		}
		if i == len(days)-1 || i%7 == 0 && i < len(days)-4 {
			fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="%s">%s</text>`, x(i), h-8, anchor, d.Day.Format("Jan 2"))
		}
	}
	for _, s := range severities {
		var pts []string
		for i, d := range days {
			y := float64(top) + plotH - plotH*float64(d.BySeverity[string(s)])/float64(scale)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y))
		}
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline class="line sev-%s" points="%s"/>`, strings.ToLower(string(s)), strings.Join(pts, " "))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil is n rounded up to 4 times a round number (at least 4).
func niceCeil(n int) int {
	if n <= 4 {
		return 4
	}
	step := float64(n) / 4
	mag := math.Pow(10, math.Floor(math.Log10(step)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= step {
			return int(math.Ceil(m*mag)) * 4
		}
	}
	return int(10*mag) * 4
}

// trendWords says the trend's first and last day in words.
func trendWords(days []store.TrendDay) string {
	if len(days) == 0 {
		return "No scans yet."
	}
	say := func(d store.TrendDay) string {
		var parts []string
		for _, s := range severities {
			parts = append(parts, fmt.Sprintf("%d %s", d.BySeverity[string(s)], strings.ToLower(string(s))))
		}
		return d.Day.Format("Jan 2") + ": " + strings.Join(parts, ", ")
	}
	return say(days[0]) + "; " + say(days[len(days)-1]) + "."
}
