package viewer_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// screenshotDir is where the browser test saves what a clinician sees
// (git-ignored; named in the README).
const screenshotDir = "../screenshots"

// chromium finds Debian's chromium, which .ci/run installs.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CARELENS_REQUIRE_BROWSER") != "" {
		t.Fatal("CARELENS_REQUIRE_BROWSER is set but no chromium is on PATH")
	}
	t.Skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
	return ""
}

// TestBrowser drives headless Chromium through the demo as a clinician
// would: sign in, find a patient by NHS number, see items from the three
// sources, untick a source, and download the PDF.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	e := startDemo(t, 3*time.Second)
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	nhs := e.shared()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/patient/"+nhs), // no session: sign-in first
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), "gp.doctor"),
		chromedp.SendKeys(chromedp.ID("password"), "riverside-demo"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("nhs")),
		chromedp.SendKeys(chromedp.ID("nhs"), nhs[:3]+" "+nhs[3:6]+" "+nhs[6:]),
		chromedp.Submit(chromedp.ID("nhs")),
		chromedp.WaitVisible(chromedp.ID("timeline-h")),
	))
	rowSources := func() []string {
		srcs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("table.timeline tbody tr")).map(r => r.dataset.sources)`))
		require.NoError(t, err)
		return srcs
	}
	before := rowSources()
	require.NotEmpty(t, before)
	has := func(rows []string, id string) bool {
		return slices.ContainsFunc(rows, func(s string) bool { return slices.Contains(strings.Fields(s), id) })
	}
	for _, id := range []string{"gp", "hospital", "community"} {
		assert.True(t, has(before, id), "items from %s", id)
	}
	var shared []string
	for _, s := range before {
		if f := strings.Fields(s); len(f) > 1 && slices.Contains(f, "gp") {
			shared = append(shared, s)
		}
	}
	require.NotEmpty(t, shared, "items held by the GP and another source")

	require.NoError(t, os.MkdirAll(screenshotDir, 0o755))
	shot := func(name string, w, h int64) {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(w, h)))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(screenshotDir, name), png, 0o644))
	}
	// A trend chart's labels are legible where it is shown: drawn for a
	// result card, not scaled down into one (at twice the card's width
	// they rendered under 7 px).
	chartText := func() []float64 {
		hs, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](
			`Array.from(document.querySelectorAll(".chart svg text")).map(t => t.getBoundingClientRect().height)`))
		require.NoError(t, err)
		return hs
	}
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		shot("record-"+vp.name+".png", vp.w, vp.h)
		hs := chartText()
		require.NotEmpty(t, hs, "the patient has a trend chart")
		assert.GreaterOrEqual(t, slices.Min(hs), 10.0, "chart labels on the %s view, px", vp.name)
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))

	// Untick the GP practice (the user's own organisation) and update.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("src-gp")),
		chromedp.Click(`//button[normalize-space()="Update view"]`),
		chromedp.WaitVisible(`//span[contains(., "not shown (unticked)")]`),
	))
	after := rowSources()
	require.NotEmpty(t, after)
	assert.False(t, has(after, "gp"), "the unticked source's items are gone")
	assert.Less(t, len(after), len(before))
	for _, s := range shared {
		rest := strings.Join(slices.DeleteFunc(strings.Fields(s), func(x string) bool { return x == "gp" }), " ")
		assert.True(t, slices.Contains(after, rest), "an item shared by %q keeps %q", s, rest)
	}
	items, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("table.timeline tbody tr td:nth-child(3)")).slice(0, 5).map(td => td.firstChild.textContent.trim())`))
	require.NoError(t, err)
	require.NotEmpty(t, items)

	// Download the PDF of this view.
	dl := t.TempDir()
	_, err = chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: new(true)})
	require.NoError(t, err)
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`//a[normalize-space()="Print (PDF)"]`)))
	var guid string
	for ev, err := range progress {
		require.NoError(t, err)
		if ev.State == browser.DownloadProgressStateCompleted {
			guid = ev.GUID
			break
		}
		require.NotEqual(t, browser.DownloadProgressStateCanceled, ev.State, "download cancelled")
	}
	require.NotEmpty(t, guid, "the PDF downloaded")
	out, err := exec.Command("pdftotext", "-layout", filepath.Join(dl, guid), "-").Output()
	require.NoError(t, err)
	text := string(out)
	assert.Contains(t, text, nhs[:3]+" "+nhs[3:6]+" "+nhs[6:], "patient header")
	assert.Contains(t, text, "Dr Asha Patel")
	assert.Contains(t, text, "Sources shown: Northfield Hospital EHR, Northfield Community Services")
	flat := strings.Join(strings.Fields(text), " ")
	for _, it := range items {
		assert.Contains(t, flat, strings.Join(strings.Fields(it), " "), "an item on screen is in the PDF")
	}
}

// TestBrowserAccess drives the sharing policy through the browser: a
// hospital doctor sees the withheld-items notice and no GP consultation
// text, sees nothing from a source the patient opted out at, breaks glass
// on a restricted record, and the privacy officer sees the alert.
func TestBrowserAccess(t *testing.T) {
	exe := chromium(t)
	e := startDemo(t, 3*time.Second)
	var nhs string
	var notes []string
	for _, n := range e.d.Example(10) {
		if notes = gpNotes(t, e, n); len(notes) > 0 {
			nhs = n
			break
		}
	}
	require.NotEmpty(t, notes)
	newBrowser := func() context.Context {
		opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
			chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
		actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
		t.Cleanup(cancel)
		ctx, cancel := chromedp.NewContext(actx)
		t.Cleanup(cancel)
		ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	signIn := func(ctx context.Context, user, password string) {
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(e.srv.URL+"/signin"),
			chromedp.WaitVisible(chromedp.ID("user")),
			chromedp.SendKeys(chromedp.ID("user"), user),
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Submit(chromedp.ID("password")),
			chromedp.WaitVisible(chromedp.ID("nhs")),
		))
	}
	text := func(ctx context.Context) string {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		require.NoError(t, err)
		return s
	}
	open := func(ctx context.Context, n string) string {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+"/patient/"+n), chromedp.WaitVisible(chromedp.ID("timeline-h"))))
		return text(ctx)
	}

	ctx := newBrowser()
	signIn(ctx, "hospital.doctor", "northfield-demo")
	page := open(ctx, nhs)
	assert.Regexp(t, `Riverside Surgery: \d+ items? withheld by the sharing policy for your organisation`, page)
	require.NoError(t, os.MkdirAll(screenshotDir, 0o755))
	top, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(screenshotDir, "record-hospital-top.png"), top, 0o644))
	for _, n := range notes {
		assert.NotContains(t, page, strings.TrimSpace(n))
	}
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	require.NoError(t, err)
	for _, n := range notes {
		assert.NotContains(t, html, n, "never sent to the browser")
	}

	page = open(ctx, e.d.OptedOut)
	assert.Contains(t, page, "Northfield Community Services shares nothing for this patient.")
	srcs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("table.timeline tbody tr")).map(r => r.dataset.sources)`))
	require.NoError(t, err)
	assert.False(t, slicesHas(srcs, "community"))

	page = open(ctx, e.d.Restricted)
	assert.Contains(t, page, "withheld because this record is restricted")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`//summary[contains(., "Break glass")]`),
		chromedp.Click(chromedp.ID("bg-emergency")),
		chromedp.SendKeys(chromedp.ID("bg-text"), "Unconscious in resus, no history available"),
		chromedp.Click(`//button[normalize-space()="Break glass"]`),
		chromedp.WaitVisible(`//strong[contains(., "Break-glass is on")]`),
	))
	rowsAfter, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.timeline tbody tr").length`))
	require.NoError(t, err)
	assert.Positive(t, rowsAfter, "break-glass opens the restricted record")

	po := newBrowser()
	signIn(po, "privacy.officer", "privacy-demo")
	require.NoError(t, chromedp.Do(po, chromedp.Navigate(e.srv.URL+"/alerts"), chromedp.WaitVisible(`//h1[contains(., "Break-glass alerts")]`)))
	alerts := text(po)
	assert.Contains(t, alerts, "hospital.doctor (clinician) broke glass")
	assert.Contains(t, alerts, "Unconscious in resus, no history available")
	png, err := chromedp.Run(po, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(screenshotDir, "alerts.png"), png, 0o644))
}
