package server

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// schedule is how often a registry is swept: an interval, or a cron
// expression (in UTC); the zero value is never.
type schedule struct {
	every time.Duration
	cron  *cronSpec
}

func (s schedule) none() bool { return s.every == 0 && s.cron == nil }

// next is when the schedule next fires after t (zero: never).
func (s schedule) next(t time.Time) time.Time {
	switch {
	case s.every > 0:
		return t.Add(s.every)
	case s.cron != nil:
		return s.cron.next(t)
	}
	return time.Time{}
}

// parseSchedule reads a registry's schedule: "@every 1h", a plain
// duration ("30m"), @hourly, @daily, @weekly, or five cron fields
// (minute hour day-of-month month day-of-week, in UTC); "" is never (on
// demand only).
func parseSchedule(s string) (schedule, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return schedule{}, nil
	case "@hourly":
		return schedule{every: time.Hour}, nil
	case "@daily":
		return schedule{every: 24 * time.Hour}, nil
	case "@weekly":
		return schedule{every: 7 * 24 * time.Hour}, nil
	}
	if len(strings.Fields(s)) == 5 {
		c, err := parseCron(s)
		if err != nil {
			return schedule{}, fmt.Errorf("schedule %q: %w", s, err)
		}
		return schedule{cron: c}, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(s, "@every")))
	if err != nil {
		return schedule{}, fmt.Errorf("schedule %q: want @every DURATION (e.g. @every 6h), a duration, @hourly, @daily, @weekly or five cron fields (e.g. 0 3 * * *)", s)
	}
	if d < minSchedule || d > maxSchedule {
		return schedule{}, fmt.Errorf("schedule %q: want between %s and %s", s, minSchedule, maxSchedule)
	}
	return schedule{every: d}, nil
}

// cronSpec is a parsed cron expression: each field's allowed values as
// bits.
type cronSpec struct {
	minute, hour, dom, month, dow uint64
	// domAny and dowAny are true for a "*" field: with both days
	// restricted, either may match (cron's rule).
	domAny, dowAny bool
}

var cronFields = []struct {
	name     string
	min, max int
}{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}}

func parseCron(s string) (*cronSpec, error) {
	f := strings.Fields(s)
	var bits [5]uint64
	for i, fd := range cronFields {
		b, err := parseCronField(f[i], fd.min, fd.max)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", fd.name, f[i], err)
		}
		bits[i] = b
	}
	if bits[4]&(1<<7) != 0 { // 7 is Sunday too
		bits[4] |= 1
	}
	c := &cronSpec{minute: bits[0], hour: bits[1], dom: bits[2], month: bits[3], dow: bits[4],
		domAny: strings.HasPrefix(f[2], "*"), dowAny: strings.HasPrefix(f[4], "*")}
	if c.next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("it never fires")
	}
	return c, nil
}

// parseCronField reads a comma-separated list of *, N or N-M, each
// with an optional /STEP.
func parseCronField(s string, lo, hi int) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(s, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n <= 0 || n > hi {
				return 0, fmt.Errorf("step %q: want 1 to %d", stepStr, hi)
			}
			step = n
		}
		from, to := lo, hi
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if from, err = strconv.Atoi(a); err != nil {
				return 0, fmt.Errorf("%q is not a number", a)
			}
			to = from
			if isRange {
				if to, err = strconv.Atoi(b); err != nil {
					return 0, fmt.Errorf("%q is not a number", b)
				}
			} else if hasStep {
				to = hi
			}
			if from < lo || to > hi || from > to {
				return 0, fmt.Errorf("want values from %d to %d", lo, hi)
			}
		}
		for v := from; v <= to; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

// next is the first minute after t (in UTC) the expression matches,
// looked for over five years (zero when none).
func (c *cronSpec) next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(5, 0, 0)
	for t.Before(end) {
		switch {
		case c.month&(1<<uint(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case c.hour&(1<<uint(t.Hour())) == 0:
			t = t.Truncate(time.Hour).Add(time.Hour)
		case c.minute&(1<<uint(t.Minute())) == 0:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

func (c *cronSpec) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<uint(t.Day())) != 0
	dow := c.dow&(1<<uint(t.Weekday())) != 0
	if !c.domAny && !c.dowAny {
		return dom || dow
	}
	return dom && dow
}
