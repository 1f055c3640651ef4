package viewer_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/examples/fhirsource"
	"github.com/carelens/carelens/viewer"
)

// TestInputLimits: every input a stranger controls has a bound.
func TestInputLimits(t *testing.T) {
	e := startDemo(t, 3*time.Second)
	c := e.gp()
	nhs := e.shared()
	tooMany := "?f=1" + strings.Repeat("&src=gp", 65)
	cases := []struct {
		name, path string
		want       int
	}{
		{"too many sources", "/patient/" + nhs + tooMany, http.StatusBadRequest},
		{"too many categories", "/patient/" + nhs + "?" + strings.Repeat("cat=note&", 33), http.StatusBadRequest},
		{"long family name", "/search?dob=2000-01-01&family=" + strings.Repeat("x", 101), http.StatusBadRequest},
		{"long NHS field", "/search?nhs=" + strings.Repeat("1", 40), http.StatusBadRequest},
		{"bad date", "/search?family=Smith&dob=31/02/2000", http.StatusBadRequest},
		{"not an NHS number in the path", "/patient/abc", http.StatusNotFound},
		{"record id not from a search", "/record/gp/..%2F..%2Fetc", http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := e.get(c, tc.path)
			assert.Equal(t, tc.want, resp.StatusCode)
		})
	}
	t.Run("oversized form body", func(t *testing.T) {
		_, page := e.get(c, "/patient/"+nhs)
		body := url.Values{"csrf": {csrfOf(t, page)}, "ref": {strings.Repeat("x", 100<<10)}}
		resp, _ := e.post(c, "/patient/"+nhs+"/identity", body)
		assert.NotEqual(t, http.StatusSeeOther, resp.StatusCode, "a 100 KB form is not read")
		assert.GreaterOrEqual(t, resp.StatusCode, 400)
	})
	t.Run("long sign-in fields", func(t *testing.T) {
		cl := e.client()
		_, page := e.get(cl, "/signin")
		resp, _ := e.post(cl, "/signin", url.Values{"csrf": {csrfOf(t, page)}, "user": {strings.Repeat("u", 200)}, "password": {"x"}})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
}

// TestConcurrencyLimit: beyond MaxConcurrent requests at once the viewer
// answers 503 at once instead of queueing without bound.
func TestConcurrencyLimit(t *testing.T) {
	e := startDemoWith(t, 2*time.Second, func(c *viewer.Config) { c.MaxConcurrent = 2 })
	c := e.gp()
	nhs := e.shared()
	_, _ = e.get(c, "/patient/"+nhs)
	require.NoError(t, e.d.Sources["hospital"].SetEndpointFaults(fhirsource.EndpointEverything, fhirsource.Faults{Latency: time.Second}))
	var wg sync.WaitGroup
	codes := make(chan int, 6)
	for range 6 {
		wg.Go(func() {
			resp, err := c.Get(e.srv.URL + "/patient/" + nhs)
			if err == nil {
				resp.Body.Close()
				codes <- resp.StatusCode
			}
		})
	}
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for code := range codes {
		got[code]++
	}
	assert.Equal(t, 2, got[http.StatusOK], "two served: %v", got)
	assert.Equal(t, 4, got[http.StatusServiceUnavailable], "the rest refused at once: %v", got)
}
