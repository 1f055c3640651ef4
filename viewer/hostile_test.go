package viewer_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/source"
)

// TestUnreadableResourcesAreAnnounced: a source that sends resources the
// viewer cannot read (nested far too deep, or with a key given twice) has
// them announced, never dropped silently, and the rest of its record is
// shown; the process does not blow up on them.
func TestUnreadableResourcesAreAnnounced(t *testing.T) {
	e := startDemo(t, 3*time.Second)
	nhs := e.shared()
	var gpID string
	for _, p := range e.d.Patients {
		if p.Source == "gp" && p.NHSNumber == nhs {
			gpID = p.PatientID
		}
	}
	require.NotEmpty(t, gpID)
	resp, err := http.Get(e.d.URLs["gp"] + "/Patient/" + gpID + "/$everything")
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	var b map[string]any
	require.NoError(t, json.Unmarshal(raw, &b))
	entries := b["entry"].([]any)
	deep := `{"url":"x","valueString":"y"}`
	for range 200 {
		deep = `{"url":"x","extension":[` + deep + `]}`
	}
	hostile := []string{
		`{"resourceType":"Observation","id":"deep1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/` + gpID + `"},"extension":[` + deep + `]}`,
		`{"resourceType":"Observation","id":"dup1","status":"final","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/` + gpID + `"}}`,
	}
	var bundle strings.Builder
	bundle.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i, en := range entries {
		r, err := json.Marshal(en.(map[string]any)["resource"])
		require.NoError(t, err)
		if i > 0 {
			bundle.WriteByte(',')
		}
		bundle.WriteString(`{"resource":` + string(r) + `}`)
	}
	for _, h := range hostile {
		bundle.WriteString(`,{"resource":` + h + `}`)
	}
	bundle.WriteString(`]}`)
	st, err := source.NewStore([]source.File{{Name: "gp.json", Data: []byte(bundle.String())}})
	require.NoError(t, err)
	e.d.Sources["gp"].SetStore(st)

	_, page := e.get(e.gp(), "/patient/"+nhs)
	assert.Contains(t, page, "Riverside Surgery sent 2 items that could not be read; they are not shown.")
	srcs, _ := rows(page)
	assert.True(t, slicesHas(srcs, "gp"), "the rest of the GP record is shown")
}
