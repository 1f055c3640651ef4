package federate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/carelens/carelens/mpi"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
	"github.com/carelens/carelens/source"
)

// testSource is a source.Source over in-memory patients, each with R4
// Observations, answering as a FHIR server would (searching by NHS number
// or family name and birth date). It can be slowed or broken.
type testSource struct {
	info     provenance.Source
	patients []testPatient
	delay    time.Duration
	fail     error
	mu       sync.Mutex
	asked    int
}

type testPatient struct {
	rec match.Record
	obs []testObs
}

type testObs struct {
	id, code, display, unit string
	value                   float64
	when                    string
	category                string // "laboratory" or a Condition when "problem"
	status                  string // the Observation's status; "" means final
}

func (s *testSource) Info() provenance.Source { return s.info }

func (s *testSource) wait(ctx context.Context) error {
	s.mu.Lock()
	s.asked++
	s.mu.Unlock()
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return fmt.Errorf("%w: %s: %w", source.ErrUnavailable, s.info.ID, ctx.Err())
		}
	}
	return s.fail
}

func (s *testSource) Search(ctx context.Context, q source.Query) ([]match.Record, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	var out []match.Record
	for _, p := range s.patients {
		r := p.rec
		switch {
		case q.NHSNumber != "":
			if nhsnumber.Normalise(r.NHSNumber) != q.NHSNumber {
				continue
			}
		case q.Family != "":
			if !strings.EqualFold(r.Family, q.Family) || r.BirthDate != q.BirthDate {
				continue
			}
		default:
			continue
		}
		r.Source = s.info.ID
		out = append(out, r)
	}
	return out, nil
}

func (s *testSource) Everything(ctx context.Context, id string) (*fhirutil.Batch, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	for _, p := range s.patients {
		if p.rec.ID == id {
			return fhirutil.Decode(bundle(p), &fhirutil.Options{Source: s.info, Retrieved: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
		}
	}
	return nil, fmt.Errorf("%w: %s: Patient/%s", source.ErrNotFound, s.info.ID, id)
}

// bundle writes p as an R4 collection Bundle.
func bundle(p testPatient) []byte {
	pat := map[string]any{"resourceType": "Patient", "id": p.rec.ID,
		"meta":      map[string]any{"lastUpdated": "2026-11-30T10:00:00Z"},
		"name":      []any{map[string]any{"use": "official", "family": p.rec.Family, "given": p.rec.Given}},
		"birthDate": p.rec.BirthDate}
	if p.rec.NHSNumber != "" {
		pat["identifier"] = []any{map[string]any{"system": fhirutil.NHSNumberSystem, "value": p.rec.NHSNumber}}
	}
	if p.rec.Postcode != "" {
		pat["address"] = []any{map[string]any{"postalCode": p.rec.Postcode}}
	}
	entries := []any{map[string]any{"resource": pat}}
	for _, o := range p.obs {
		var r map[string]any
		if o.category == "problem" {
			r = map[string]any{"resourceType": "Condition", "id": o.id,
				"clinicalStatus": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}}},
				"code":           map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": o.code, "display": o.display}}},
				"subject":        map[string]any{"reference": "Patient/" + p.rec.ID}, "recordedDate": o.when}
		} else {
			status := o.status
			if status == "" {
				status = "final"
			}
			r = map[string]any{"resourceType": "Observation", "id": o.id, "status": status,
				"category": []any{map[string]any{"coding": []any{map[string]any{"system": fhirutil.ObservationCategorySystem, "code": "laboratory"}}}},
				"code":     map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": o.code, "display": o.display}}},
				"subject":  map[string]any{"reference": "Patient/" + p.rec.ID}, "effectiveDateTime": o.when,
				"valueQuantity": map[string]any{"value": o.value, "unit": o.unit, "system": "http://unitsofmeasure.org", "code": o.unit}}
		}
		entries = append(entries, map[string]any{"resource": r})
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": entries})
	if err != nil {
		panic(err)
	}
	return b
}

const (
	nhsA = "9434765919" // valid
	nhsB = "9434765870" // valid, another person
)

func alice(src, id, nhs string) match.Record {
	return match.Record{ID: id, Source: src, Given: []string{"Alice"}, Family: "Fenwick", BirthDate: "1961-04-12", Sex: "female", NHSNumber: nhs, Postcode: "LS1 4AP"}
}

// cohort is three sources: the GP and hospital hold Alice with her NHS
// number; the community service holds her without it (same postcode),
// and a namesake born the same day elsewhere; the hospital also holds
// another person onto whom a clerk typed Alice's NHS number.
func cohort() (gp, hosp, comm *testSource) {
	hb := testObs{id: "hb1", code: "718-7", display: "Haemoglobin", unit: "g/L", value: 135, when: "2025-03-04T09:12:00Z"}
	gp = &testSource{info: provenance.Source{ID: "gp", Kind: provenance.KindGP, Name: "Riverside GP"},
		patients: []testPatient{{rec: alice("gp", "g1", nhsA), obs: []testObs{hb,
			{id: "k1", code: "2823-3", display: "Potassium", unit: "mmol/L", value: 5.9, when: "2025-03-04T09:12:00Z"},
			{id: "k0", code: "2823-3", display: "Potassium", unit: "mmol/L", value: 4.4, when: "2024-03-04T09:12:00Z"},
			{id: "c1", code: "38341003", display: "Hypertension", when: "2019-05-01", category: "problem"}}}}}
	wrong := match.Record{ID: "h9", Given: []string{"Bernard"}, Family: "Okafor", BirthDate: "1990-09-30", Sex: "male", NHSNumber: nhsA, Postcode: "M1 1AA"}
	hosp = &testSource{info: provenance.Source{ID: "hospital", Kind: provenance.KindHospital, Name: "Hospital EHR"},
		patients: []testPatient{
			{rec: alice("hospital", "h1", nhsA), obs: []testObs{hb,
				{id: "k1h", code: "2823-3", display: "Potassium", unit: "mmol/L", value: 4.1, when: "2025-03-04T09:12:00Z"}}},
			{rec: wrong, obs: []testObs{{id: "x", code: "2345-7", display: "Glucose", unit: "mmol/L", value: 7, when: "2025-01-01T00:00:00Z"}}},
		}}
	namesake := match.Record{ID: "c7", Given: []string{"Alice"}, Family: "Fenwick", BirthDate: "1961-04-12", Sex: "female", Postcode: "TR1 2AB"}
	comm = &testSource{info: provenance.Source{ID: "community", Kind: provenance.KindCommunity, Name: "Community nursing"},
		patients: []testPatient{
			{rec: alice("community", "c1", ""), obs: []testObs{{id: "w1", code: "29463-7", display: "Body weight", unit: "kg", value: 64, when: "2025-06-01T10:00:00Z"}}},
			{rec: namesake, obs: []testObs{{id: "w9", code: "29463-7", display: "Body weight", unit: "kg", value: 98, when: "2025-06-01T10:00:00Z"}}},
		}}
	return gp, hosp, comm
}

func federation(t *testing.T, o *Options, srcs ...*testSource) *Federation {
	t.Helper()
	var ms []Member
	for _, s := range srcs {
		ms = append(ms, Member{Source: s, Config: source.Config{ID: s.info.ID, Timeout: source.Duration(300 * time.Millisecond)}})
	}
	f, err := New(ms, o)
	require.NoError(t, err)
	return f
}

func refs(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Ref().String())
	}
	return out
}

func TestResolveByNHSNumber(t *testing.T) {
	gp, hosp, comm := cohort()
	f := federation(t, nil, gp, hosp, comm)
	res, err := f.Resolve(t.Context(), Anchor{NHSNumber: nhsA}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"gp/g1", "hospital/h1", "community/c1"}, refs(res.Used),
		"the two identifier matches that agree, and the community record with the same name, birth date and postcode")
	assert.NotContains(t, refs(res.Used), "hospital/h9", "a record carrying the number but another person's details is never used")
	assert.Equal(t, []string{"hospital/h9"}, refs(res.Refused), "it is refused, for the viewer to announce; the namesake without the number is not")
	assert.NotContains(t, refs(res.Used), "community/c7", "a namesake born the same day is never used")
	assert.Contains(t, refs(res.Pending), "community/c7", "name and birth date alone: shown for a person to judge")
	for _, c := range res.Pending {
		assert.NotEqual(t, match.GradeCertain, c.Grade)
		assert.NotEmpty(t, c.Explanation.Comparisons, "a pending match says why")
	}
	assert.Equal(t, nhsA, res.NHSNumber())
}

func TestResolveFromChosenRecordWithoutNHSNumber(t *testing.T) {
	gp, hosp, comm := cohort()
	f := federation(t, nil, gp, hosp, comm)
	chosen := alice("community", "c1", "")
	res, err := f.Resolve(t.Context(), Anchor{Record: &chosen}, nil)
	require.NoError(t, err)
	assert.Equal(t, "community/c1", res.Primary.Ref().String())
	assert.Contains(t, refs(res.Used), "gp/g1")
	assert.NotContains(t, refs(res.Used), "community/c7")
}

func TestResolveRejectsBadAnchors(t *testing.T) {
	gp, hosp, comm := cohort()
	f := federation(t, nil, gp, hosp, comm)
	_, err := f.Resolve(t.Context(), Anchor{NHSNumber: "9434765918"}, nil)
	require.ErrorIs(t, err, ErrAnchor, "check digit fails")
	_, err = f.Resolve(t.Context(), Anchor{}, nil)
	require.ErrorIs(t, err, ErrAnchor)
	r := alice("nowhere", "1", "")
	_, err = f.Resolve(t.Context(), Anchor{Record: &r}, nil)
	require.ErrorIs(t, err, ErrUnknownSource)
}

type decisions map[[2]string]mpi.DecisionKind

func (d decisions) Decided(_ context.Context, a, b match.RecordRef) (mpi.DecisionKind, bool, error) {
	k, ok := d[[2]string{a.String(), b.String()}]
	if !ok {
		k, ok = d[[2]string{b.String(), a.String()}]
	}
	return k, ok, nil
}

func TestDecisionsOutrankTheModel(t *testing.T) {
	gp, hosp, comm := cohort()
	dec := decisions{
		{"gp/g1", "community/c7"}: mpi.DecisionLink,      // a person confirmed the namesake is her
		{"gp/g1", "community/c1"}: mpi.DecisionNeverLink, // and that the other record is not
	}
	f := federation(t, &Options{Decisions: dec}, gp, hosp, comm)
	res, err := f.Resolve(t.Context(), Anchor{NHSNumber: nhsA}, nil)
	require.NoError(t, err)
	assert.Contains(t, refs(res.Used), "community/c7")
	assert.NotContains(t, refs(res.Used), "community/c1")
	assert.NotContains(t, refs(res.Pending), "community/c1")
}

func TestFetchMergesAndTagsEverySource(t *testing.T) {
	gp, hosp, comm := cohort()
	f := federation(t, nil, gp, hosp, comm)
	res, err := f.Resolve(t.Context(), Anchor{NHSNumber: nhsA}, nil)
	require.NoError(t, err)
	v, err := f.Fetch(t.Context(), res, nil)
	require.NoError(t, err)
	for _, st := range v.Sources {
		assert.Equal(t, StateOK, st.State, st.Source.ID)
		assert.Empty(t, st.Message())
	}
	var hb, k []*merge.Entry
	for _, e := range v.Timeline.All() {
		assert.NotContains(t, e.Lineage.Sources(), "", "every entry keeps its source")
		switch e.Display {
		case "Haemoglobin":
			hb = append(hb, e)
		case "Potassium":
			if e.Time.Year() == 2025 {
				k = append(k, e)
			}
		case "Glucose":
			t.Errorf("an entry of a record that is not the patient's is on the timeline")
		}
	}
	require.Len(t, hb, 1, "the same result from two sources shows once")
	assert.Equal(t, []string{"gp", "hospital"}, hb[0].Lineage.Sources())
	require.Len(t, k, 2, "a disagreement keeps both values")
	assert.NotZero(t, k[0].Conflict)
	assert.Equal(t, k[0].Conflict, k[1].Conflict)
	assert.Equal(t, "Fenwick", v.Golden.Name.Value.Family)
	assert.ElementsMatch(t, []string{"community", "gp", "hospital"}, v.Golden.Name.Lineage.Sources())
}

func TestFetchReportsSlowAndFailedSourcesAndShowsTheRest(t *testing.T) {
	gp, hosp, comm := cohort()
	f := federation(t, nil, gp, hosp, comm)
	res, err := f.Resolve(t.Context(), Anchor{NHSNumber: nhsA}, nil)
	require.NoError(t, err)
	hosp.delay = time.Hour // hangs
	comm.fail = fmt.Errorf("%w: community: status 503", source.ErrUnavailable)
	start := time.Now()
	v, err := f.Fetch(t.Context(), res, nil)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "the page does not wait for a hanging source beyond its timeout")
	byID := map[string]SourceStatus{}
	for _, st := range v.Sources {
		byID[st.Source.ID] = st
	}
	assert.Equal(t, StateOK, byID["gp"].State)
	assert.Equal(t, StateTimeout, byID["hospital"].State)
	assert.Equal(t, "Hospital EHR did not answer within 300ms; its data is not shown.", byID["hospital"].Message())
	assert.Equal(t, StateFailed, byID["community"].State)
	assert.Contains(t, byID["community"].Message(), "Community nursing could not be reached")
	for _, e := range v.Timeline.All() {
		assert.Equal(t, []string{"gp"}, e.Lineage.Sources())
	}
	assert.Positive(t, v.Timeline.Len())
}

func TestFetchAskAndKeep(t *testing.T) {
	gp, hosp, comm := cohort()
	f := federation(t, nil, gp, hosp, comm)
	res, err := f.Resolve(t.Context(), Anchor{NHSNumber: nhsA}, nil)
	require.NoError(t, err)
	before := hosp.asked
	v, err := f.Fetch(t.Context(), res, &FetchOptions{
		Ask: func(s provenance.Source) bool { return s.ID != "hospital" },
		Keep: func(s provenance.Source, e *merge.Entry) bool {
			return !(s.ID == "gp" && e.Category == merge.CategoryProblem)
		},
	})
	require.NoError(t, err)
	assert.Equal(t, before, hosp.asked, "an unticked source is not asked")
	assert.Equal(t, StateSkipped, v.Sources[1].State)
	for _, e := range v.Timeline.All() {
		assert.NotContains(t, e.Lineage.Sources(), "hospital")
		assert.NotEqual(t, merge.CategoryProblem, e.Category, "a withheld entry is dropped before merging")
		if e.Display == "Haemoglobin" {
			assert.Equal(t, []string{"gp"}, e.Lineage.Sources(), "a shared item keeps the other source")
		}
	}
}

func TestSummary(t *testing.T) {
	gp, hosp, comm := cohort()
	f := federation(t, nil, gp, hosp, comm)
	res, err := f.Resolve(t.Context(), Anchor{NHSNumber: nhsA}, nil)
	require.NoError(t, err)
	v, err := f.Fetch(t.Context(), res, nil)
	require.NoError(t, err)
	var es []*merge.Entry
	for _, e := range v.Timeline.All() {
		es = append(es, e)
	}
	s := Summarise(es, &SummaryOptions{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.Len(t, s.Problems, 1)
	assert.Equal(t, "Hypertension", s.Problems[0].Display)
	var pot *Trend
	for i := range s.Results {
		if s.Results[i].Name == "Potassium" {
			pot = &s.Results[i]
		}
	}
	require.NotNil(t, pot)
	assert.Len(t, pot.Points, 3, "both conflicting values and the older one are plotted")
	assert.Equal(t, 2024, pot.Points[0].Time.Year(), "oldest first")
	assert.Equal(t, "Body weight", s.Results[0].Name, "the most recently measured test first")
}

// TestSummaryTrendsByConcept: with an engine, results whose codes the
// rules map to one concept are one trend, and a value in another unit is
// converted (through the molar mass) or counted as unconverted; without
// one, each code is its own trend and only the latest unit is plotted.
func TestSummaryTrendsByConcept(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2025, 1, d, 9, 0, 0, 0, time.UTC) }
	glucose := func(d int, code string, v float64, unit string) *merge.Entry {
		return &merge.Entry{Category: merge.CategoryResult, Time: day(d), Precision: merge.PrecisionMinute, Display: "Glucose",
			Codes: []merge.Code{{System: "http://loinc.org", Code: code}}, Value: &merge.Quantity{Value: v, Unit: unit}}
	}
	es := []*merge.Entry{glucose(1, "2345-7", 180.156, "mg/dL"), glucose(2, "2339-0", 5, "mmol/L"),
		glucose(3, "2345-7", 1, "furlong"), glucose(4, "2339-0", 6, "mmol/L")}
	eng, err := merge.Compile(&merge.Options{Rules: &merge.Rules{
		Concepts: []merge.Concept{{ID: "glucose", Codes: []merge.Code{{System: "http://loinc.org", Code: "2345-7"}, {System: "http://loinc.org", Code: "2339-0"}}}},
		Analytes: []merge.Analyte{{Concept: "glucose", MolarMass: 180.156}},
	}})
	require.NoError(t, err)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Summarise(es, &SummaryOptions{Engine: eng, Now: now})
	require.Len(t, s.Results, 1, "two codes of one concept are one trend")
	tr := s.Results[0]
	assert.Equal(t, "glucose", tr.Concept)
	assert.Equal(t, "mmol/L", tr.Unit, "the latest result's unit")
	require.Len(t, tr.Points, 3)
	assert.InDelta(t, 10, tr.Points[0].Value, 1e-9, "180.156 mg/dL of glucose is 10 mmol/L")
	assert.Equal(t, 1, tr.Unconverted)

	s = Summarise(es, &SummaryOptions{Now: now})
	require.Len(t, s.Results, 2, "without rules each code is its own trend")
	for _, tr := range s.Results {
		if tr.Unit == "mmol/L" {
			assert.Len(t, tr.Points, 2)
		}
	}
}

func TestNewRejectsDuplicateSources(t *testing.T) {
	gp, _, _ := cohort()
	_, err := New([]Member{{Source: gp}, {Source: gp}}, nil)
	require.ErrorIs(t, err, ErrConfig)
	_, err = New([]Member{{}}, nil)
	require.True(t, errors.Is(err, ErrConfig))
}

// TestFetchCountsUnreadableResources: a resource a source sends that
// cannot be read is counted, so the viewer can say so, and the rest of the
// source's record is shown.
func TestFetchCountsUnreadableResources(t *testing.T) {
	gp, hosp, comm := cohort()
	hosp.patients[0].obs = append(hosp.patients[0].obs, testObs{id: "bad", code: "2345-7", display: "Glucose",
		unit: "mmol/L", value: 5, when: "2025-01-01T00:00:00Z", status: "not-a-status"})
	f := federation(t, nil, gp, hosp, comm)
	res, err := f.Resolve(t.Context(), Anchor{NHSNumber: nhsA}, nil)
	require.NoError(t, err)
	v, err := f.Fetch(t.Context(), res, nil)
	require.NoError(t, err)
	assert.Equal(t, StateOK, v.Sources[1].State)
	assert.Equal(t, 1, v.Sources[1].Unreadable)
	assert.Equal(t, 2, v.Sources[1].Entries, "the readable entries are kept")
	assert.Zero(t, v.Sources[0].Unreadable)
}

// linkedDecisions are decisions that also list the records a person linked.
type linkedDecisions struct {
	decisions
	linked map[string][]match.Record
}

func (d linkedDecisions) Linked(_ context.Context, ref match.RecordRef) ([]match.Record, error) {
	return d.linked[ref.String()], nil
}

// TestConfirmedRecordStaysWithThePatient: a record a person linked is used
// even when the sources' searches no longer find it (another family name).
func TestConfirmedRecordStaysWithThePatient(t *testing.T) {
	gp, hosp, comm := cohort()
	married := alice("community", "c9", "")
	married.Family, married.Postcode = "Okonkwo", "S1 2HE"
	comm.patients = append(comm.patients, testPatient{rec: married,
		obs: []testObs{{id: "w5", code: "29463-7", display: "Body weight", unit: "kg", value: 61, when: "2025-08-01T10:00:00Z"}}})
	dec := linkedDecisions{
		decisions: decisions{{"gp/g1", "community/c9"}: mpi.DecisionLink},
		linked:    map[string][]match.Record{"gp/g1": {married}},
	}
	f := federation(t, &Options{Decisions: dec}, gp, hosp, comm)
	res, err := f.Resolve(t.Context(), Anchor{NHSNumber: nhsA}, nil)
	require.NoError(t, err)
	assert.Contains(t, refs(res.Used), "community/c9")
	v, err := f.Fetch(t.Context(), res, nil)
	require.NoError(t, err)
	var found bool
	for _, e := range v.Timeline.All() {
		if e.Value != nil && e.Value.Value == 61 {
			found = true
		}
	}
	assert.True(t, found, "the confirmed record's data is on the timeline")

	// Without the decision the record is not found at all.
	f = federation(t, nil, gp, hosp, comm)
	res, err = f.Resolve(t.Context(), Anchor{NHSNumber: nhsA}, nil)
	require.NoError(t, err)
	assert.NotContains(t, refs(res.Used), "community/c9")
	assert.NotContains(t, refs(res.Pending), "community/c9")
}
