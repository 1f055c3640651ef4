package viewer_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/source"
)

// TestRecordOnTheWrongPatientIsAnnounced: a hospital record that carries
// the patient's NHS number but another person's details (a clerk typed the
// number onto the wrong patient) is not shown, and the page says so,
// naming the source and the details that disagree but none of the other
// person's values.
func TestRecordOnTheWrongPatientIsAnnounced(t *testing.T) {
	e := startDemo(t, 3*time.Second)
	nhs := e.shared()
	var person string
	for _, p := range e.d.Patients {
		if p.NHSNumber == nhs {
			person = p.PersonID
		}
	}
	hosp := e.d.Sources["hospital"]
	old := hosp.Store()
	var files []source.File
	var other string
	for _, id := range old.PatientIDs() {
		items, err := old.Everything(id, time.Time{})
		require.NoError(t, err)
		var b strings.Builder
		for _, it := range items {
			js := []byte(it.JSON)
			if it.Type == "Patient" && other == "" && !e.holds(id, person) {
				other, js = id, withNHSNumber(t, js, nhs)
			}
			b.Write(js)
			b.WriteByte('\n')
		}
		files = append(files, source.File{Name: id + ".ndjson", Data: []byte(b.String())})
	}
	require.NotEmpty(t, other)
	st, err := source.NewStore(files)
	require.NoError(t, err)
	hosp.SetStore(st)
	var family string
	for _, p := range e.d.Patients {
		if p.Source == "hospital" && p.PatientID == other {
			family = p.Family
		}
	}

	resp, body := e.get(e.gp(), "/patient/"+nhs)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "Northfield Hospital EHR holds a record with this patient&#39;s NHS number, but its ")
	assert.Contains(t, body, "It is not shown")
	assert.NotContains(t, body, family, "none of the other person's details")
}

// holds reports whether the hospital's record id belongs to person.
func (e *env) holds(id, person string) bool {
	for _, p := range e.d.Patients {
		if p.Source == "hospital" && p.PatientID == id {
			return p.PersonID == person
		}
	}
	return false
}

// withNHSNumber returns a Patient resource with its NHS number set to nhs.
func withNHSNumber(t *testing.T, js []byte, nhs string) []byte {
	var p map[string]any
	require.NoError(t, json.Unmarshal(js, &p))
	ids, _ := p["identifier"].([]any)
	var kept []any
	for _, x := range ids {
		if m, ok := x.(map[string]any); ok && m["system"] == fhirutil.NHSNumberSystem {
			continue
		}
		kept = append(kept, x)
	}
	p["identifier"] = append(kept, map[string]any{"system": fhirutil.NHSNumberSystem, "value": nhs})
	out, err := json.Marshal(p)
	require.NoError(t, err)
	return out
}
