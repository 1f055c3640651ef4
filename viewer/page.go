package viewer

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/federate"
	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/mpi"
	"github.com/carelens/carelens/provenance"
)

// banner is a notice at the top of a page.
type banner struct {
	Level string // "error", "warning", "info"
	Text  string
}

// filters are what the user chose to see: the record page's form, read
// from the query string, so every view (HTML, PDF, API) is a GET of the
// same URL.
type filters struct {
	// Hidden are unticked source ids.
	Hidden map[string]bool
	// Categories are the categories shown on the timeline; empty: all.
	Categories map[merge.Category]bool
	// From and To bound the timeline's dates (inclusive); zero: open.
	From, To time.Time
}

// categoryOrder is the order categories are offered in.
var categoryOrder = []merge.Category{merge.CategoryProblem, merge.CategoryMedication, merge.CategoryAllergy,
	merge.CategoryResult, merge.CategoryObservation, merge.CategoryReport, merge.CategoryProcedure,
	merge.CategoryImmunisation, merge.CategoryEncounter, merge.CategoryReferral, merge.CategoryNote,
	merge.CategoryDocument, merge.CategoryOther}

var categoryLabel = map[merge.Category]string{
	merge.CategoryProblem: "Problems", merge.CategoryMedication: "Medications", merge.CategoryAllergy: "Allergies",
	merge.CategoryResult: "Test results", merge.CategoryObservation: "Observations", merge.CategoryReport: "Reports",
	merge.CategoryProcedure: "Procedures", merge.CategoryImmunisation: "Immunisations", merge.CategoryEncounter: "Encounters",
	merge.CategoryReferral: "Referrals", merge.CategoryNote: "Consultation notes", merge.CategoryDocument: "Documents",
	merge.CategoryOther: "Other",
}

func readFilters(v url.Values, srcs []provenance.Source) (filters, error) {
	f := filters{Hidden: map[string]bool{}, Categories: map[merge.Category]bool{}}
	if v.Get("f") == "1" { // the form was submitted: unticked boxes are absent
		shown := v["src"]
		if len(shown) > 64 {
			return f, errors.New("too many sources in the request")
		}
		for _, s := range srcs {
			if !slices.Contains(shown, s.ID) {
				f.Hidden[s.ID] = true
			}
		}
	}
	for _, h := range v["hide"] {
		f.Hidden[h] = true
	}
	cats := v["cat"]
	if len(cats) > 32 {
		return f, errors.New("too many categories in the request")
	}
	for _, c := range cats {
		if _, ok := categoryLabel[merge.Category(c)]; !ok {
			return f, fmt.Errorf("unknown category %q", c)
		}
		f.Categories[merge.Category(c)] = true
	}
	var err error
	if s := v.Get("from"); s != "" {
		if f.From, err = time.Parse(time.DateOnly, s); err != nil {
			return f, errors.New("the 'from' date is not a date")
		}
	}
	if s := v.Get("to"); s != "" {
		if f.To, err = time.Parse(time.DateOnly, s); err != nil {
			return f, errors.New("the 'to' date is not a date")
		}
	}
	return f, nil
}

// showsEntry reports whether the timeline filter shows e.
func (f filters) showsEntry(e *merge.Entry) bool {
	if len(f.Categories) > 0 && !f.Categories[e.Category] {
		return false
	}
	if !f.From.IsZero() && (e.Time.IsZero() || e.Time.Before(f.From)) {
		return false
	}
	if !f.To.IsZero() && (e.Time.IsZero() || !e.Time.Before(f.To.AddDate(0, 0, 1))) {
		return false
	}
	return true
}

// query encodes the filters, for links to the same view as PDF or JSON.
func (f filters) query(srcs []provenance.Source) string {
	v := url.Values{}
	if len(f.Hidden) > 0 {
		v.Set("f", "1")
		for _, s := range srcs {
			if !f.Hidden[s.ID] {
				v.Add("src", s.ID)
			}
		}
	}
	for _, c := range categoryOrder {
		if f.Categories[c] {
			v.Add("cat", string(c))
		}
	}
	if !f.From.IsZero() {
		v.Set("from", f.From.Format(time.DateOnly))
	}
	if !f.To.IsZero() {
		v.Set("to", f.To.Format(time.DateOnly))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// recordData is the record page: everything the HTML, the PDF and the API
// show, built once per request from the view.
type recordData struct {
	base
	Path       string // the record's URL path
	Query      string // the current filters as a query string
	Patient    patientHeader
	Banners    []banner
	Sources    []sourceBox
	Pending    []pendingMatch
	Summary    summaryData
	Timeline   rows
	Categories []categoryBox
	From, To   string
	Shown      int
	Total      int
	Generated  time.Time

	// Break-glass: offered when restricted items were withheld and the
	// user's role may break glass; active while it lasts.
	BreakGlassOffer   bool
	BreakGlassReasons []provenance.BreakGlassReason
	BreakGlassUntil   string
	NHSDigits         string
	CanSeeAccesses    bool

	view    *federate.View
	acc     *access
	entries []*merge.Entry // the timeline rows' entries
}

type patientHeader struct {
	Name   string
	NHS    string
	Born   string
	Sex    string
	Fields []headerField
}

// headerField is one golden demographic field with the sources holding it.
type headerField struct {
	Label, Value, Sources string
}

type sourceBox struct {
	ID, Name, Kind string
	Checked        bool
	Own            bool
	State          string
	Updated        string
	Stale          bool
	Entries        int
	Note           string
}

type pendingMatch struct {
	Ref, Source, Grade string
	Name, Born, Sex    string
	Postcode           string
	Probability        string
	Reasons            []reason
}

type reason struct {
	Name, Level string
	Weight      string
	Agrees      bool
}

type summaryData struct {
	Problems, Medications, Allergies []row
	Results                          []trendView
}

type trendView struct {
	Name, Latest, When, Sources string
	Count                       int
	Chart                       template.HTML
	Unconverted                 int
	Conflict                    bool
}

// row is one timeline item as shown.
type row struct {
	Date, Category, CategoryLabel string
	Item, Value, Status           string
	Text                          string
	Sources                       string
	SourceIDs                     []string
	Merged                        bool
	Conflict                      int
	ConflictNote                  string
}

type categoryBox struct {
	ID, Label string
	Checked   bool
}

// recordPage builds the record page for the request: resolve the patient,
// fetch the ticked sources, merge, filter, summarise.
func (s *Server) recordPage(q *request) (*recordData, int, error) {
	a, path, err := s.anchor(q)
	if err != nil {
		// An NHS number that fails its check, or a record not in the
		// user's own search results (a guessed URL): denied and audited.
		if aerr := s.auditEvent(q.r.Context(), q, audit.Event{Action: audit.ActionDenied, Outcome: audit.OutcomeDenied,
			Note: "record not found or not from the user's search: " + logPath(q.r)}); aerr != nil {
			return nil, http.StatusServiceUnavailable, errors.New("the access could not be recorded")
		}
		return nil, http.StatusNotFound, err
	}
	srcs := s.fed.Sources()
	f, err := readFilters(q.r.URL.Query(), srcs)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	res, err := s.resolve(q, a)
	if err != nil {
		return nil, http.StatusBadRequest, errors.New("the patient could not be looked up")
	}
	d := &recordData{base: q.base("Patient record"), Path: path, Query: f.query(srcs), Generated: s.now()}
	nhs := res.NHSNumber()
	acc := s.access(q, nhs)
	d.acc = acc
	d.NHSDigits = nhs
	d.CanSeeAccesses = nhs != "" && (q.user.Role == RolePrivacy || q.user.Role == RoleAdmin)
	if res.Primary == nil {
		for _, st := range res.Sources {
			if m := st.Message(); m != "" {
				d.Banners = append(d.Banners, banner{Level: "error", Text: m})
			}
		}
		d.Banners = append(d.Banners, banner{Level: "warning", Text: "No source holds a record with this NHS number."})
		d.Patient = patientHeader{NHS: formatNHS(a.NHSNumber)}
		return d, http.StatusOK, nil
	}
	if res.Primary != nil && !acc.shares(res.Primary.Source) {
		// The record the user chose sits at a source the patient does not
		// share at: nothing of it may be shown, not even that it exists.
		return nil, http.StatusNotFound, errors.New("that record is not shared")
	}
	v, err := s.fed.Fetch(q.r.Context(), res, &federate.FetchOptions{
		Ask:  func(src provenance.Source) bool { return !f.Hidden[src.ID] && acc.shares(src) },
		Keep: acc.keep,
	})
	if err != nil {
		return nil, http.StatusServiceUnavailable, errors.New("the record could not be assembled")
	}
	d.view = v
	s.fillHeader(d, v)
	s.fillSources(q, d, v, res, f)
	s.fillPending(d, res)
	d.Banners = append(acc.banners(s.sourceName), d.Banners...)
	if nhs != "" {
		q.session.mu.Lock()
		if bg, ok := q.session.breakGlass[nhs]; ok && s.now().Before(bg.until) {
			d.BreakGlassUntil = bg.until.UTC().Format("15:04 MST")
		}
		q.session.mu.Unlock()
		if d.BreakGlassUntil == "" && acc.restrictedWithheld() && s.policy.CanBreakGlass(acc.v) {
			d.BreakGlassOffer = true
			d.BreakGlassReasons = s.policy.BreakGlass.Reasons
		}
	}
	s.fillTimeline(d, v, f)
	s.fillSummary(d, v)
	for _, c := range categoryOrder {
		d.Categories = append(d.Categories, categoryBox{ID: string(c), Label: categoryLabel[c], Checked: f.Categories[c]})
	}
	if !f.From.IsZero() {
		d.From = f.From.Format(time.DateOnly)
	}
	if !f.To.IsZero() {
		d.To = f.To.Format(time.DateOnly)
	}
	return d, http.StatusOK, nil
}

func (s *Server) sourceNames(l provenance.Lineage) (string, []string) {
	ids := l.Sources()
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = s.sourceName(id)
	}
	return strings.Join(names, ", "), ids
}

func (s *Server) fillHeader(d *recordData, v *federate.View) {
	g := v.Golden
	name := g.Name.Value
	d.Patient.Name = strings.ToUpper(name.Family)
	if len(name.Given) > 0 {
		d.Patient.Name += ", " + strings.Join(name.Given, " ")
	}
	add := func(label, value string, l provenance.Lineage) {
		if value == "" {
			return
		}
		srcs, _ := s.sourceNames(l)
		d.Patient.Fields = append(d.Patient.Fields, headerField{Label: label, Value: value, Sources: srcs})
	}
	add("Name", d.Patient.Name, g.Name.Lineage)
	if !g.BirthDate.Value.IsZero() {
		d.Patient.Born = formatBirthTime(g.BirthDate.Value, v.Fetched)
		add("Born", d.Patient.Born, g.BirthDate.Lineage)
	}
	d.Patient.Sex = titleCase(g.Sex.Value)
	add("Gender", d.Patient.Sex, g.Sex.Lineage)
	for _, id := range g.Identifiers {
		if id.Value.System == fhirutil.NHSNumberSystem {
			d.Patient.NHS = formatNHS(id.Value.Value)
			add("NHS number", d.Patient.NHS, id.Lineage)
		}
	}
	if d.Patient.NHS == "" {
		d.Patient.NHS = formatNHS(v.Resolution.NHSNumber())
	}
	addr := g.Address.Value
	add("Address", strings.Join(slices.DeleteFunc(append(slices.Clone(addr.Lines), addr.City, addr.Postcode), func(s string) bool { return s == "" }), ", "), g.Address.Lineage)
	add("Phone", g.Phone.Value, g.Phone.Lineage)
	add("Email", g.Email.Value, g.Email.Lineage)
}

func (s *Server) fillSources(q *request, d *recordData, v *federate.View, res *federate.Resolution, f filters) {
	for i, st := range v.Sources {
		b := sourceBox{ID: st.Source.ID, Name: s.sourceName(st.Source.ID), Kind: string(st.Source.Kind),
			Checked: !f.Hidden[st.Source.ID], Own: q.ownSource(st.Source), State: string(st.State), Entries: st.Entries, Stale: st.Stale}
		if !st.LastUpdated.IsZero() {
			b.Updated = formatTime(st.LastUpdated, merge.PrecisionSecond)
		}
		switch st.State {
		case federate.StateOK:
			b.Note = fmt.Sprintf("%d items", st.Entries)
		case federate.StateNoRecord:
			b.Note = "no record of this patient"
			if i < len(res.Sources) && !res.Sources[i].Available() {
				b.Note = "did not answer the search"
				d.Banners = append(d.Banners, banner{Level: "error", Text: res.Sources[i].Message()})
			}
		case federate.StateSkipped:
			b.Note = "not shown (unticked)"
			if d.acc != nil && d.acc.optedOut[st.Source.ID] {
				b.Note, b.Entries, b.Updated, b.Stale = "shares nothing for this patient", 0, "", false
			}
		default:
			b.Note = "not available"
			d.Banners = append(d.Banners, banner{Level: "error", Text: st.Message()})
		}
		if st.Unreadable > 0 {
			d.Banners = append(d.Banners, banner{Level: "warning", Text: fmt.Sprintf(
				"%s sent %s that could not be read; they are not shown. Check that source's record if something seems missing.",
				b.Name, plural(st.Unreadable, "item"))})
		}
		if st.Stale {
			d.Banners = append(d.Banners, banner{Level: "warning", Text: fmt.Sprintf(
				"%s's data was last updated %s, more than %s ago; it may be out of date.", b.Name, b.Updated, humanDuration(st.MaxAge))})
		}
		d.Sources = append(d.Sources, b)
	}
}

func (s *Server) fillPending(d *recordData, res *federate.Resolution) {
	for _, c := range res.Pending {
		if !d.acc.shares(c.Source) {
			continue // no hint of a record where the patient does not share
		}
		p := pendingMatch{Ref: c.Ref().String(), Source: s.sourceName(c.Record.Source), Grade: string(c.Grade),
			Name: displayName(c.Record), Born: formatBirth(c.Record.BirthDate), Sex: titleCase(c.Record.Sex),
			Postcode: c.Record.Postcode, Probability: fmt.Sprintf("%.1f%%", 100*c.Explanation.Probability)}
		for _, ce := range c.Explanation.Comparisons {
			if ce.Weight == 0 && ce.TermFrequency == 0 {
				continue // missing on one side: no evidence either way
			}
			w := ce.Weight + ce.TermFrequency
			p.Reasons = append(p.Reasons, reason{Name: ce.Name, Level: ce.Level, Weight: fmt.Sprintf("%+.1f", w), Agrees: w > 0})
		}
		if c.Explanation.Constraint != "" {
			p.Reasons = append(p.Reasons, reason{Name: "safety rule", Level: c.Explanation.Constraint, Weight: "", Agrees: false})
		}
		d.Pending = append(d.Pending, p)
	}
	if len(d.Pending) > 0 {
		d.Banners = append(d.Banners, banner{Level: "warning", Text: fmt.Sprintf(
			"%d other record(s) may be this patient. They are not shown until someone confirms them (see “Possible matches”).", len(d.Pending))})
	}
	for _, c := range res.Refused {
		if d.acc.shares(c.Source) {
			d.Banners = append(d.Banners, banner{Level: "warning", Text: refusedText(s.sourceName(c.Record.Source), c)})
		}
	}
}

// refusedText announces a record that holds the patient's NHS number but
// is not this patient by its details, naming the details that disagree
// but none of its values (they may be another person's).
func refusedText(source string, c federate.Candidate) string {
	if c.Decided == mpi.DecisionNeverLink {
		return fmt.Sprintf("%s holds a record with this patient's NHS number that a person has recorded as another patient's. It is not shown.", source)
	}
	var differ []string
	for _, ce := range c.Explanation.Comparisons {
		if ce.Weight+ce.TermFrequency < 0 && !slices.Contains(differ, ce.Name) {
			differ = append(differ, ce.Name)
		}
	}
	why := "its details are another person's"
	if n := len(differ); n > 0 {
		list := differ[0]
		if n > 1 {
			list = strings.Join(differ[:n-1], ", ") + " and " + differ[n-1]
		}
		why = "its " + list + " differ from this patient's"
	}
	return fmt.Sprintf("%s holds a record with this patient's NHS number, but %s. It is not shown: the number may be on another patient's record there, so tell %[1]s.", source, why)
}

func (s *Server) fillTimeline(d *recordData, v *federate.View, f filters) {
	tl := v.Timeline
	d.Total = tl.Len()
	for i := tl.Len() - 1; i >= 0; i-- { // latest first
		e := tl.At(i)
		if !f.showsEntry(e) {
			continue
		}
		d.entries = append(d.entries, e)
		d.Timeline = append(d.Timeline, s.row(tl, e))
	}
	d.Shown = len(d.Timeline)
}

func (s *Server) row(tl *merge.Timeline, e *merge.Entry) row {
	srcs, ids := s.sourceNames(e.Lineage)
	r := row{Date: formatTime(e.Time, e.Precision), Category: string(e.Category), CategoryLabel: categoryLabel[e.Category],
		Item: e.Display, Value: entryValue(e), Status: e.Status, Text: e.Text, Sources: srcs, SourceIDs: ids,
		Merged: len(ids) > 1, Conflict: int(e.Conflict)}
	if r.CategoryLabel == "" {
		r.CategoryLabel = string(e.Category)
	}
	if e.Conflict != 0 {
		if c, ok := tl.Conflict(e.Conflict); ok {
			var parts []string
			for _, pos := range c.Entries {
				o := tl.At(pos)
				n, _ := s.sourceNames(o.Lineage)
				val := entryValue(o)
				if val == "" {
					val = o.Display
				}
				parts = append(parts, n+" reports "+val)
			}
			r.ConflictNote = fmt.Sprintf("Sources disagree (%s): %s.", c.Reason, strings.Join(parts, "; "))
		}
	}
	return r
}

func (s *Server) fillSummary(d *recordData, v *federate.View) {
	all := make([]*merge.Entry, 0, v.Timeline.Len())
	for _, e := range v.Timeline.All() {
		all = append(all, e)
	}
	sum := federate.Summarise(all, &federate.SummaryOptions{Engine: s.fed.Engine(), Now: v.Fetched})
	for _, e := range sum.Problems {
		d.Summary.Problems = append(d.Summary.Problems, s.row(v.Timeline, e))
	}
	for _, e := range sum.Medications {
		d.Summary.Medications = append(d.Summary.Medications, s.row(v.Timeline, e))
	}
	for _, e := range sum.Allergies {
		d.Summary.Allergies = append(d.Summary.Allergies, s.row(v.Timeline, e))
	}
	for _, t := range sum.Results {
		srcs, _ := s.sourceNames(t.Latest.Lineage)
		tv := trendView{Name: t.Name, Latest: entryValue(t.Latest), When: formatTime(t.Latest.Time, t.Latest.Precision),
			Sources: srcs, Count: len(t.Points), Unconverted: t.Unconverted, Conflict: t.Latest.Conflict != 0}
		if len(t.Points) > 1 {
			tv.Chart = s.chart(t)
		}
		d.Summary.Results = append(d.Summary.Results, tv)
	}
}

// entryValue is the value column of an entry.
func entryValue(e *merge.Entry) string {
	var parts []string
	if e.Value != nil {
		parts = append(parts, formatQuantity(e.Value))
	}
	if e.Dose != nil && e.ValueText == "" {
		parts = append(parts, formatQuantity(e.Dose))
	}
	if e.ValueText != "" {
		parts = append(parts, e.ValueText)
	}
	return strings.Join(parts, " · ")
}

func formatQuantity(q *merge.Quantity) string {
	v := strconv.FormatFloat(q.Value, 'f', -1, 64)
	if q.Unit == "" {
		return q.Comparator + v
	}
	return q.Comparator + v + " " + q.Unit
}

// formatTime writes a clinical time as NHS pages do (04-Mar-2025 09:12),
// at the precision the source gave.
func formatTime(t time.Time, p merge.Precision) string {
	if t.IsZero() {
		return "Date unknown"
	}
	t = t.UTC()
	switch p {
	case merge.PrecisionYear:
		return t.Format("2006")
	case merge.PrecisionMonth:
		return t.Format("Jan 2006")
	case merge.PrecisionDay:
		return t.Format("02-Jan-2006")
	}
	return t.Format("02-Jan-2006 15:04")
}

func formatBirth(s string) string {
	d, st := match.ParseDate(s)
	if st != match.DateOK {
		return "Not known"
	}
	if d.Day == 0 {
		return strconv.Itoa(d.Year)
	}
	return time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC).Format("02-Jan-2006")
}

func formatBirthTime(t, now time.Time) string {
	age := now.Year() - t.Year()
	if now.YearDay() < t.YearDay() {
		age--
	}
	return fmt.Sprintf("%s (%d years)", t.Format("02-Jan-2006"), age)
}

// formatNHS writes an NHS number 3 3 4, as NHS systems display it.
func formatNHS(n string) string {
	n = nhsnumber.Normalise(n)
	if len(n) != 10 {
		return n
	}
	return n[:3] + " " + n[3:6] + " " + n[6:]
}

func displayName(r match.Record) string {
	n := strings.ToUpper(r.Family)
	if len(r.Given) > 0 {
		n += ", " + strings.Join(r.Given, " ")
	}
	if n == "" {
		n = r.FullName
	}
	return n
}

func titleCase(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	return d.String()
}

var funcs = template.FuncMap{}

func init() {
	funcs["nospace"] = func(s string) string { return strings.ReplaceAll(s, " ", "") }
	funcs["dict"] = func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict needs pairs")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, errors.New("dict keys are strings")
			}
			m[k] = kv[i+1]
		}
		return m, nil
	}
}
