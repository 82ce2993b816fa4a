package console_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testenv/distreg"
	"github.com/customs-scanner/customs/internal/testimage"
)

// screenshotEnv, when set to 1, makes TestBrowser write the overview's
// screenshot to docs/console-overview.png for the README.
const screenshotEnv = "CUSTOMS_CONSOLE_SCREENSHOT"

// eicar is the EICAR test file, assembled so that this source is not one.
var eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-` + `TEST-FILE!$H+H*`

// randomOf is n characters drawn from alphabet.
func randomOf(alphabet string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// chromium finds Debian's chromium: missing, the test fails under CI=true
// and is skipped otherwise.
func chromium(t *testing.T) string {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed (apt-get install the package listed in .ci/packages.txt): %v", err)
		}
		t.Skipf("chromium is not installed: %v", err)
	}
	return path
}

// pageProblems collects what must not happen on a page: JavaScript
// console errors, uncaught exceptions, failed requests and answers of
// 400 or more.
type pageProblems struct {
	mu   sync.Mutex
	list []string
}

func (p *pageProblems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *pageProblems) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value))
			}
			p.add("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		p.add("exception: %s", ev.ExceptionDetails.Text)
	case *network.EventLoadingFailed:
		p.add("request failed: %s %s", ev.Type, ev.ErrorText)
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			p.add("%s: %d", ev.Response.URL, ev.Response.Status)
		}
	}
}

// accessibilityJS lists what a page breaks of WCAG AA that a script can
// tell: text whose contrast with its background is under 4.5:1 (3:1 for
// large text), and form controls without a label.
const accessibilityJS = `(() => {
  const rgb = s => { const m = s.match(/[\d.]+/g) || [0, 0, 0, 0]; return m.map(Number); };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const background = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0) { return c; } } return [255, 255, 255]; };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg") || el.closest(".visually-hidden") || !el.offsetParent && getComputedStyle(el).position !== "fixed") { continue; }
    const text = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (text && !el.disabled) {
      const st = getComputedStyle(el);
      const a = lum(rgb(st.color)), b = lum(background(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
      const need = size >= 24 || bold && size >= 18.66 ? 3 : 4.5;
      if (ratio < need) { out.push("contrast " + ratio.toFixed(2) + " of " + el.tagName + " '" + el.textContent.trim().slice(0, 30) + "'"); }
    }
    if (el.matches("input:not([type=hidden]), select, textarea") && !(el.labels && el.labels.length) && !el.getAttribute("aria-label")) {
      out.push("no label: " + el.outerHTML.slice(0, 80));
    }
  }
  return out;
})()`

// TestBrowser drives the console in Chromium against a server with the
// embedded store and an in-process registry: sign in, add the registry,
// sweep it, watch its scans finish, open the image, see its malware and
// its secret (redacted), download the SARIF report, filter the images
// that have malware. Each page's screenshot is written under the test's
// temporary directory.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	reg := distreg.Serve(t, distreg.Handler(t, ""))
	awsKey := "AKIA" + randomOf("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	awsSecret := randomOf("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 40)
	bad := testenv.Push(t, reg+"/team/app:1", testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
			testimage.File("var/lib/dpkg/status", "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u1\nSource: glibc\n\n")),
		testimage.Layer(t, testimage.File("srv/eicar.com", eicar),
			testimage.File("app/.env", "AWS_ACCESS_KEY_ID="+awsKey+"\nAWS_SECRET_ACCESS_KEY="+awsSecret+"\n"))))
	clean := testenv.Push(t, reg+"/team/clean:1", testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"))))
	cs := startServer(t)
	shots := t.TempDir()
	downloads := t.TempDir()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	problems := &pageProblems{}
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithListener(problems.listen))
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	defer cancelTimeout()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	html := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// waitFor evaluates js until it is true; a page that navigates
	// meanwhile is evaluated again.
	waitFor := func(what, js string, timeout time.Duration) {
		t.Helper()
		var err error
		for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			var ok bool
			if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
				return
			}
		}
		page, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%s: not after %s (%v)\n%s", what, timeout, err, page)
	}
	shot := func(name string) []byte {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		broken, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](accessibilityJS))
		if err != nil {
			t.Fatalf("accessibility of %s: %v", name, err)
		}
		for _, problem := range broken {
			t.Errorf("%s: %s", name, problem)
		}
		return b
	}

	// Sign in: every page sends a browser without a session there.
	do("open the console", chromedp.Navigate(cs.url+"/images"), chromedp.WaitVisible(chromedp.ID("token")))
	shot("signin")
	do("sign in", chromedp.SendKeys(chromedp.ID("token"), cs.admin), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("form.filters")))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != cs.url+"/images" {
		t.Errorf("after signing in: %s, want the page asked for", loc)
	}

	// Add the registry, and sweep it.
	do("add the registry", chromedp.Navigate(cs.url+"/registries"), chromedp.SendKeys(chromedp.ID("url"), reg),
		chromedp.Click(chromedp.ID("plain_http")), chromedp.Submit(chromedp.ID("url")), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	if got := text("table.registries"); !strings.Contains(got, reg) {
		t.Fatalf("registries: %q", got)
	}
	do("sweep", chromedp.Click(chromedp.CSS(`form[action="/registries/1/sweep"] button`)))
	waitFor("the sweep queued", `document.readyState === "complete" && (document.querySelector("p.flash")?.textContent || "").includes("Sweep queued")`, 30*time.Second)

	// The scans page follows the queue until both images are scanned.
	do("watch the scans", chromedp.Navigate(cs.url+"/scans"))
	waitFor("both scans succeed on the Scans page", `document.querySelectorAll('tr[data-status="succeeded"]').length >= 2 && !document.querySelector('[data-refresh]')`, 3*time.Minute)
	shot("scans")
	do("sweep's registry page", chromedp.Navigate(cs.url+"/registries"), chromedp.WaitVisible(chromedp.CSS("table.registries")))
	if got := text("table.registries"); !strings.Contains(got, "2 images") {
		t.Errorf("the registry's last sweep: %q", got)
	}
	shot("registries")

	// The image: its malware, and its secret redacted.
	do("open the image", chromedp.Navigate(cs.url+"/scans"), chromedp.Click(chromedp.CSS(`#scans a[href="/images/`+bad+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("dl.summary")))
	if got := text("main"); !strings.Contains(got, "team/app:1") || !strings.Contains(got, "EICAR") {
		t.Errorf("image summary lacks its name or its worst finding:\n%s", got)
	}
	shot("image")
	tabShown := func(tab string) {
		t.Helper()
		do(tab+" tab", chromedp.Click(chromedp.CSS(`nav.tabs a[href$="tab=`+tab+`"]`)))
		waitFor(tab+" tab", `document.readyState === "complete" && (document.querySelector('nav.tabs a[aria-current="page"]')?.href || "").endsWith("tab=`+tab+`")`, 30*time.Second)
	}
	tabShown("malware")
	if got := text("table.findings"); !strings.Contains(got, "EICAR") || !strings.Contains(got, "srv/eicar.com") {
		t.Errorf("malware tab: %q", got)
	}
	shot("image-malware")
	tabShown("secrets")
	secrets := text("table.findings")
	if !strings.Contains(secrets, "app/.env") || !strings.Contains(secrets, "AKIA") || !strings.Contains(secrets, "****") {
		t.Errorf("secrets tab lacks the redacted key: %q", secrets)
	}
	if page := html(); strings.Contains(page, awsKey) || strings.Contains(page, awsSecret) {
		t.Errorf("the secrets tab shows a secret in full")
	}
	shot("image-secrets")
	for _, tab := range []string{"vulnerabilities", "configuration", "packages", "layers", "history"} {
		do(tab+" tab", chromedp.Navigate(cs.url+"/images/"+bad+"?tab="+tab), chromedp.WaitVisible(chromedp.CSS(`nav.tabs a[aria-current="page"]`)))
		shot("image-" + tab)
	}

	// Download the SARIF report.
	done := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: new(true)}); err != nil {
		t.Fatal(err)
	}
	do("download SARIF", chromedp.Navigate(cs.url+"/images/"+bad), chromedp.Click(chromedp.CSS(`a[href$="format=sarif"]`)))
	var file string
	for ev, err := range done {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(downloads, ev.GUID)
			break
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("the SARIF download was canceled")
		}
	}
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	data, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(data, &sarif)
	}
	if err != nil || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) == 0 {
		t.Fatalf("downloaded SARIF: %v %.200s", err, data)
	}

	// Filter the images that have malware.
	do("images", chromedp.Navigate(cs.url+"/images"), chromedp.WaitVisible(chromedp.CSS("table.images")))
	if got := text("#image-count"); !strings.Contains(got, "of 2") {
		t.Errorf("images: %q, want 2", got)
	}
	shot("images")
	do("has malware", chromedp.Click(chromedp.ID("malware")))
	// The checkbox submits the filter itself (a script).
	waitFor("the malware filter", `location.search.includes("malware=1") && document.readyState === "complete" && !!document.querySelector("table.images")`, 30*time.Second)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table.images tbody a")).map(a => a.getAttribute("href"))`))
	if err != nil || len(rows) != 1 || rows[0] != "/images/"+bad {
		t.Errorf("images with malware: %v %v, want only %s (not %s)", rows, err, bad, clean)
	}
	shot("images-malware")

	// Scan now: one row, then a selection; both land on the Scans page.
	do("scan now", chromedp.Click(chromedp.CSS(`button[name="one"][value="`+bad+`"]`)))
	waitFor("the scan queued", `location.pathname === "/scans" && document.readyState === "complete" && (document.querySelector("p.flash")?.textContent || "").includes("Scan queued")`, 30*time.Second)
	waitFor("the rescan succeeds", `document.querySelectorAll('tr[data-status="succeeded"]').length >= 3 && !document.querySelector('[data-refresh]')`, 2*time.Minute)
	do("select", chromedp.Navigate(cs.url+"/images"), chromedp.WaitVisible(chromedp.CSS("table.images")))
	if disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("scan-selected").disabled`)); err != nil || !disabled {
		t.Errorf("Scan selected is enabled with nothing selected (%v)", err)
	}
	do("scan selected", chromedp.Click(chromedp.CSS(`input[name="image"][value="`+bad+`"]`)), chromedp.Click(chromedp.CSS(`input[name="image"][value="`+clean+`"]`)),
		chromedp.Click(chromedp.ID("scan-selected")))
	waitFor("the selection queued", `location.pathname === "/scans" && document.readyState === "complete" && (document.querySelector("p.flash")?.textContent || "").includes("Scan queued")`, 30*time.Second)
	waitFor("the selection's scans succeed", `document.querySelectorAll('tr[data-status="succeeded"]').length >= 5 && !document.querySelector('[data-refresh]')`, 2*time.Minute)
	if failed, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#scans small.error, tr[data-status="failed"]').length`)); err != nil || failed != 0 {
		t.Errorf("%d scans failed or were retried (%v):\n%s", failed, err, text("#scans"))
	}

	do("advisories", chromedp.Navigate(cs.url+"/advisories?q=CVE-2023-4911"), chromedp.WaitVisible(chromedp.CSS("main table")))
	shot("advisories")
	do("events", chromedp.Navigate(cs.url+"/events?min_severity=high"), chromedp.WaitVisible(chromedp.CSS("form.filters")))
	shot("events")
	do("overview", chromedp.Navigate(cs.url+"/"), chromedp.WaitVisible(chromedp.CSS("svg.trend")))
	if got := text("table.risk"); !strings.Contains(got, "Malware") {
		t.Errorf("overview risk table: %q", got)
	}
	overview := shot("overview")
	if os.Getenv(screenshotEnv) == "1" {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "console-overview.png"), overview, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A phone's width: no page scrolls sideways as a whole.
	do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, p := range []string{"/", "/images", "/images/" + bad + "?tab=vulnerabilities", "/scans", "/registries"} {
		do("phone "+p, chromedp.Navigate(cs.url+p), chromedp.WaitVisible(chromedp.CSS("main")))
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		if err != nil || wide {
			t.Errorf("%s at 390 px: wider than the screen (%v)", p, err)
		}
	}
	shot("overview-phone")

	// Without JavaScript the pages work the same: the filter's button
	// submits it.
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	do("images without JavaScript", chromedp.Navigate(cs.url+"/images"), chromedp.WaitVisible(chromedp.CSS("table.images")),
		chromedp.Click(chromedp.ID("malware")), chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)))
	waitFor("the malware filter without JavaScript", `location.search.includes("malware=1") && document.readyState === "complete" && document.querySelectorAll("table.images tbody tr").length === 1`, 30*time.Second)
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
		t.Fatal(err)
	}

	// Keyboard: the first Tab reaches the skip link.
	do("keyboard", chromedp.Navigate(cs.url+"/"), chromedp.KeyEvent("\t"))
	if focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.textContent`)); err != nil || focused != "Skip to content" {
		t.Errorf("first Tab focuses %q (%v), want the skip link", focused, err)
	}

	do("sign out", chromedp.Click(chromedp.CSS("form.signout button")), chromedp.WaitVisible(chromedp.ID("token")))
	problems.mu.Lock()
	defer problems.mu.Unlock()
	for _, p := range problems.list {
		t.Errorf("page problem: %s", p)
	}
	t.Logf("screenshots in %s", shots)
}
