package shadow

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// testdata/shadow.quick was written by Debian's mkpasswd (package whois):
// root "toor" (yescrypt), alice "alice123" (SHA-512), and strong random
// passwords for bob (yescrypt) and carol (SHA-512).
func quickShadow(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/shadow.quick")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Generous bounds for tests that check what is found rather than how long
// it takes: the CI machine may be loaded.
const slow = 2 * time.Minute

func TestQuickFindsWeak(t *testing.T) {
	requireCrypt(t)
	a := New(Options{Budget: slow, PerHash: slow, CPU: -1})
	r := analyze(t, a, "etc/shadow", quickShadow(t))
	got := byID(r.Findings)
	for name, pw := range map[string]string{"root": "toor", "alice": "alice123"} {
		f, ok := got["shadow-weak-password"][name]
		if !ok {
			t.Errorf("%s (%s) not found: %v", name, pw, got)
			continue
		}
		i := slices.Index(guessesFor(GuessQuick, name, f.Extra["hash_scheme"]), pw)
		if f.Extra["guess_list"] != "quick" || f.Extra["guesses_tried"] != strconv.Itoa(i+1) {
			t.Errorf("%s: extra %v, want guess_list quick, guesses_tried %d", name, f.Extra, i+1)
		}
		if u := got["shadow-usable-password"][name]; u.Extra["guesses_tried"] != strconv.Itoa(i+1) {
			t.Errorf("%s: usable finding extra %v", name, u.Extra)
		}
	}
	if got["shadow-weak-password"]["root"].Severity != model.Critical || got["shadow-weak-password"]["alice"].Severity != model.High {
		t.Errorf("severities: %v", got["shadow-weak-password"])
	}
	// The strong passwords are not found, after the whole quick list:
	// eight guesses against yescrypt, all against SHA-512.
	for name, n := range map[string]int{"bob": quickExpensive, "carol": len(quickList("carol"))} {
		if f, ok := got["shadow-weak-password"][name]; ok {
			t.Errorf("%s: strong password reported: %+v", name, f)
		}
		u := got["shadow-usable-password"][name]
		if u.Extra["guess_list"] != "quick" || u.Extra["guesses_tried"] != strconv.Itoa(n) {
			t.Errorf("%s: usable finding extra %v, want %d quick guesses", name, u.Extra, n)
		}
	}
	if r.Incomplete || len(r.Warnings) > 0 {
		t.Errorf("incomplete %v, warnings %v", r.Incomplete, r.Warnings)
	}
}

// TestQuickBound checks that the default quick mode stays within its CPU
// bound whatever the scheme (strong yescrypt and SHA-512 hashes here), and
// says so when it had to stop.
func TestQuickBound(t *testing.T) {
	requireCrypt(t)
	a := New(Options{})
	start, cpu0 := time.Now(), processCPU(t)
	r := analyze(t, a, "etc/shadow", quickShadow(t))
	wall, cpu := time.Since(start), processCPU(t)-cpu0
	// One guess per worker may be under way when the bound is reached.
	if cpu > QuickCPU+500*time.Millisecond || wall > QuickWall+time.Second {
		t.Errorf("quick guessing took %v of CPU, %v of wall time", cpu, wall)
	}
	if r.Incomplete != (len(r.Warnings) > 0) {
		t.Errorf("incomplete %v but warnings %v", r.Incomplete, r.Warnings)
	}
	t.Logf("quick, %d workers: %v CPU, %v wall, warnings %v", a.opt.Workers, cpu, wall, r.Warnings)

	// A CPU bound reached before the list's end cuts the result short.
	process.Clear()
	bob := []byte(strings.Split(string(quickShadow(t)), "\n")[2])
	r = analyze(t, New(Options{CPU: 20 * time.Millisecond}), "etc/shadow", bob)
	if !r.Incomplete || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "time bound") {
		t.Errorf("20ms of CPU on a strong yescrypt hash: incomplete %v, warnings %v", r.Incomplete, r.Warnings)
	}
}

func TestOff(t *testing.T) {
	requireCrypt(t)
	a := New(Options{Guessing: GuessOff})
	start := time.Now()
	r := analyze(t, a, "etc/shadow", quickShadow(t))
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("off took %v", d)
	}
	got := byID(r.Findings)
	if len(got["shadow-weak-password"]) != 0 || len(got["shadow-usable-password"]) != 4 {
		t.Errorf("findings %v", got)
	}
	if u := got["shadow-usable-password"]["root"]; u.Extra["guess_list"] != "" || u.Extra["hash_scheme"] != "yescrypt" {
		t.Errorf("extra %v", u.Extra)
	}
	if r.Incomplete || len(r.Warnings) > 0 {
		t.Errorf("incomplete %v, warnings %v", r.Incomplete, r.Warnings)
	}
	if a.ConfigKey() == New(Options{}).ConfigKey() || New(Options{}).ConfigKey() != New(Options{Guessing: GuessQuick}).ConfigKey() {
		t.Error("config key does not follow the guessing mode")
	}
	if err := (Options{Guessing: "fast"}).Validate(); err == nil {
		t.Error("mode fast accepted")
	}
}

// TestTimeCut: a run cut short by time is marked incomplete, remembers how
// far it got, and the next run, in another image, resumes there.
func TestTimeCut(t *testing.T) {
	requireCrypt(t)
	root := firstLine(quickShadow(t))
	dir := t.TempDir()
	a := New(Options{Guessing: GuessDeep, Budget: time.Millisecond, PerHash: time.Millisecond, Workers: 1, MemoDir: dir})
	r := analyze(t, a, "etc/shadow", root)
	got := byID(r.Findings)
	if !r.Incomplete || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "time bound") {
		t.Fatalf("incomplete %v, warnings %v", r.Incomplete, r.Warnings)
	}
	first, _ := strconv.Atoi(got["shadow-usable-password"]["root"].Extra["guesses_tried"])
	if _, ok := got["shadow-weak-password"]["root"]; ok || first >= slices.Index(deepList("root"), "toor") {
		t.Fatalf("1ms of yescrypt (a guess takes several) found the password or tried %d guesses", first)
	}
	// The next image, with time enough: found, and the count includes
	// the guesses of the first run.
	process.Clear()
	a = New(Options{Guessing: GuessDeep, Budget: slow, PerHash: slow, MemoDir: dir})
	r = analyze(t, a, "etc/shadow", root)
	f, ok := byID(r.Findings)["shadow-weak-password"]["root"]
	if !ok || r.Incomplete || f.Extra["guess_list"] != "deep" || f.Extra["guesses_tried"] != strconv.Itoa(slices.Index(deepList("root"), "toor")+1) {
		t.Errorf("resumed: %+v, incomplete %v, warnings %v", f, r.Incomplete, r.Warnings)
	}
}

// TestMemo: a hash already judged is answered from the memo directory in
// a later process, with no time to hash at all; the directory holds no
// password.
func TestMemo(t *testing.T) {
	requireCrypt(t)
	dir := t.TempDir()
	b := quickShadow(t)
	r := analyze(t, New(Options{Budget: slow, PerHash: slow, CPU: -1, MemoDir: dir}), "etc/shadow", b)
	want := byID(r.Findings)
	process.Clear()
	r = analyze(t, New(Options{Budget: time.Nanosecond, PerHash: time.Nanosecond, MemoDir: dir}), "etc/shadow", b)
	got := byID(r.Findings)
	if r.Incomplete || len(r.Warnings) > 0 {
		t.Fatalf("from the memo: incomplete %v, warnings %v", r.Incomplete, r.Warnings)
	}
	for id := range want {
		for name, f := range want[id] {
			if g := got[id][name]; g.Match != f.Match || g.Extra["guesses_tried"] != f.Extra["guesses_tried"] {
				t.Errorf("%s %s: %+v, want %+v", id, name, g, f)
			}
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 4 {
		t.Fatalf("memo dir: %v %v", ents, err)
	}
	for _, e := range ents {
		m, _ := os.ReadFile(dir + "/" + e.Name())
		if strings.Contains(string(m), "toor") || strings.Contains(string(m), "alice123") {
			t.Errorf("memo %s holds a password: %s", e.Name(), m)
		}
	}
	// Another list is another judgement.
	r = analyze(t, New(Options{Guessing: GuessDeep, Budget: time.Nanosecond, PerHash: time.Nanosecond, MemoDir: dir}), "etc/shadow", b)
	if !r.Incomplete {
		t.Error("deep list answered from the quick list's memo")
	}
}

func TestTooCostly(t *testing.T) {
	for hash, costly := range map[string]bool{
		"$y$j9T$ev2cATE2dgZpQJOyi0MP8/$XsAmwRP2KRYoLOx8goBmJHrIMXBki99I9aoWJ/0WWC8": false,
		// mkpasswd -m yescrypt -R 11: N=2^18, 1 GiB per guess.
		"$y$jFT$WpCHE7QdQdIXIwXjNyu/G.$.hrJZ2ASoUJ1WV4RI527vQBEFrOoktNnsLVj/NsLUYC": true,
		"$y$jBT$WpCHE7QdQdIXIwXjNyu/G.$.hrJZ2ASoUJ1WV4RI527vQBEFrOoktNnsLVj/NsLUYC": false,
		"$y$jJT$WpCHE7QdQdIXIwXjNyu/G.$.hrJZ2ASoUJ1WV4RI527vQBEFrOoktNnsLVj/NsLUYC": true,
		"$y$jzzzT$WpCHE7QdQdIXIwXjNyu/G.$.hrJZ2ASoUJ1WV4RI527vQBEFrOoktNnsLVj/NsL":  true,
		"$2b$12$2F1AmTlFtGh.9f7PiEnkGOsydngeRqc.lc1u9mG.6Z24q0bNRQ.cy":              false,
		"$2b$31$2F1AmTlFtGh.9f7PiEnkGOsydngeRqc.lc1u9mG.6Z24q0bNRQ.cy":              true,
		"$6$rounds=5000$salt$x":      false,
		"$6$rounds=999999999$salt$x": true,
		"$5$rounds=x$salt$x":         true,
		"$6$salt$hash":               false,
	} {
		scheme := Account{Hash: hash}.Scheme()
		if got := tooCostly(scheme, hash); (got != "") != costly {
			t.Errorf("%s: %q", hash, got)
		}
	}
}

// TestWithoutCgo runs in a build without libxcrypt (CGO_ENABLED=0): bcrypt
// is still guessed in pure Go; yescrypt and SHA-crypt are skipped with a
// warning, and usable passwords are still reported.
func TestWithoutCgo(t *testing.T) {
	if cryptEngine != "go" {
		t.Skip("built with libxcrypt")
	}
	process.Clear()
	b, err := os.ReadFile("testdata/shadow.mkpasswd")
	if err != nil {
		t.Fatal(err)
	}
	r := analyze(t, New(Options{Guessing: GuessDeep, Budget: slow, PerHash: slow}), "etc/shadow", b)
	got := byID(r.Findings)
	if f, ok := got["shadow-weak-password"]["dave"]; !ok || f.Extra["hash_scheme"] != "bcrypt" {
		t.Errorf("dave's bcrypt password: %v", got)
	}
	if len(got["shadow-weak-password"]) != 1 || len(got["shadow-usable-password"]) != 6 {
		t.Errorf("findings %v", got)
	}
	if len(r.Warnings) != 5 || !strings.Contains(r.Warnings[0], "built without cgo") {
		t.Errorf("warnings %v", r.Warnings)
	}
}
