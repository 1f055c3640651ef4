package benchmarks

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carelens/carelens/merge"
)

// fhirRole is what kind of organisation a source is, which decides what it
// holds about a person.
type fhirRole uint8

const (
	roleCommunity fhirRole = iota // community services, and any unnamed source
	roleGP
	roleHospital
)

func roleOf(source string) fhirRole {
	switch source {
	case "gp":
		return roleGP
	case "hospital":
		return roleHospital
	}
	return roleCommunity
}

// fhirStyle is the coding style (see codeFor) of source s: the practice
// codes in SNOMED CT, the hospital in LOINC and dm+d, the community service
// in a local system of its own, other sources in Read or local codes.
func fhirStyle(source string, s int) int {
	switch roleOf(source) {
	case roleGP:
		return 1
	case roleHospital:
		return 0
	}
	if source == "community" {
		return 3
	}
	return 2 + s%2
}

// Document kinds: the LOINC document type each note or document concept is
// written with. Progress and nurse notes are notes to fhirutil; discharge
// summaries and consult notes (clinic letters) are documents.
var docTypes = map[string][2]string{
	"doc-progress":  {"11506-3", "Progress note"},
	"doc-nurse":     {"34746-8", "Nurse note"},
	"doc-discharge": {"18842-5", "Discharge summary"},
	"doc-letter":    {"11488-4", "Consult note"},
}

// fhirConcepts are the concepts of clinConcepts (same indexes, so the same
// codes) followed by what a whole record needs besides: the encounters of a
// hospital stay and a home visit, childhood vaccines, and the note and
// document kinds.
func fhirConcepts() []clinConcept {
	cs := clinConcepts()
	for _, p := range []string{"Hospital admission", "Home visit"} {
		cs = append(cs, clinConcept{id: "enc-" + p, cat: merge.CategoryEncounter, display: []string{p, strings.ToLower(p), p + " (encounter)"}})
	}
	for _, p := range []string{"DTaP/IPV/Hib/HepB vaccine", "MMR vaccine", "MenB vaccine", "HPV vaccine"} {
		cs = append(cs, clinConcept{id: "imm-" + p, cat: merge.CategoryImmunisation, display: []string{p, strings.ToLower(p), p + " given"}})
	}
	for _, id := range []string{"doc-progress", "doc-nurse"} {
		cs = append(cs, clinConcept{id: id, cat: merge.CategoryNote, display: []string{docTypes[id][1]}})
	}
	cs = append(cs,
		clinConcept{id: "doc-discharge", cat: merge.CategoryDocument, display: []string{"Discharge summary", "DISCHARGE SUMMARY", "Discharge letter"}},
		clinConcept{id: "doc-letter", cat: merge.CategoryDocument, display: []string{"Outpatient clinic letter", "Clinic letter", "OUTPATIENT LETTER"}})
	return cs
}

// rendition is one source's record of a fact: the entry as that source
// writes it (codes, wording, units, time).
type rendition struct {
	src      int
	e        merge.Entry
	conflict bool   // disagrees with the fact
	reaction string // allergy reaction as this source records it
}

// fhirFact is one clinical fact about a person and every source's record of
// it; holders[0] is the source it originated at.
type fhirFact struct {
	ci      int32
	t       time.Time // the fact's time at its origin
	end     time.Time // end of an encounter, abatement of a problem
	text    string    // note or document body
	title   string    // a document's title
	class   string    // encounter class (v3-ActCode)
	enc     int32     // the fact of the encounter it belongs to, or -1
	noCopy  bool      // never copied to other sources
	dropped bool
	holders []rendition
}

// history is one person's clinical record over every source.
type history struct {
	p        *person
	fg       *fhirGen
	r        *rand.Rand
	birth    time.Time
	start    time.Time // the record's first day
	now      time.Time
	present  []bool
	gp, hosp int   // source indexes, or -1
	comm     []int // community-like sources present
	keeper   int   // who keeps problems, medications, allergies: GP, else hospital, else community
	lab      int   // whose laboratory reports results
	facts    []fhirFact
	cond     map[string]condition // by problem concept id
	meds     map[string]time.Time // drug concept id → start of treatment
	labs     map[int32]labLevel
	regCut   [][2]time.Time // per source: the time window of a second registration
	height   float64
}

type condition struct{ onset, resolved time.Time }

type labLevel struct{ base, drift float64 }

const day = 24 * time.Hour

// years returns d as a fraction of years.
func years(d time.Duration) float64 { return d.Hours() / (24 * 365.25) }

// ageAt returns the person's age in years at t.
func (h *history) ageAt(t time.Time) float64 { return years(t.Sub(h.birth)) }

func (h *history) has(problem string) bool {
	_, ok := h.cond[problem]
	return ok
}

// active reports whether the problem is present and not resolved at t.
func (h *history) active(problem string, t time.Time) bool {
	c, ok := h.cond[problem]
	return ok && !c.onset.After(t) && (c.resolved.IsZero() || c.resolved.After(t))
}

// onTreatment reports whether the drug was started before t.
func (h *history) onTreatment(drug string, t time.Time) bool {
	s, ok := h.meds[drug]
	return ok && s.Before(t)
}

// between draws a time uniformly in [a, b), truncated to the minute.
func (h *history) between(a, b time.Time) time.Time {
	if !b.After(a) {
		return a
	}
	return a.Add(time.Duration(h.r.Int64N(int64(b.Sub(a))))).Truncate(time.Minute)
}

// clinicTime returns day d, or the Monday after a weekend, at a time in
// working hours.
func (h *history) clinicTime(d time.Time) time.Time {
	d = d.Truncate(day)
	switch d.Weekday() {
	case time.Saturday:
		d = d.Add(2 * day)
	case time.Sunday:
		d = d.Add(day)
	}
	return d.Add(8*time.Hour + 30*time.Minute + time.Duration(h.r.IntN(9*60))*time.Minute)
}

// history draws the clinical record of p over the sources holding a
// record of p (regs[s] non-empty).
func (fg *fhirGen) history(p *person, regs [][][10]string) *history {
	fg.pcg.Seed(mix(fg.g.r.seed^tagClinical<<56^uint64(p.idx)), mix(uint64(p.idx)^tagClinical))
	h := &history{p: p, fg: fg, r: fg.rnd, now: fg.f.now, gp: -1, hosp: -1, keeper: -1, lab: -1,
		cond: map[string]condition{}, meds: map[string]time.Time{}, labs: map[int32]labLevel{}}
	h.birth = time.Date(p.year, time.Month(p.month), p.day, 0, 0, 0, 0, time.UTC)
	h.start = h.now.AddDate(-fg.f.years, 0, 0)
	if h.birth.After(h.start) {
		h.start = h.birth
	}
	h.present = make([]bool, len(regs))
	h.regCut = make([][2]time.Time, len(regs))
	for s, rs := range regs {
		if len(rs) == 0 {
			continue
		}
		h.present[s] = true
		switch fg.roles[s] {
		case roleGP:
			if h.gp < 0 {
				h.gp = s
			}
		case roleHospital:
			if h.hosp < 0 {
				h.hosp = s
			}
		default:
			h.comm = append(h.comm, s)
		}
	}
	switch {
	case h.gp >= 0:
		h.keeper = h.gp
	case h.hosp >= 0:
		h.keeper = h.hosp
	default:
		h.keeper = h.comm[0]
	}
	h.lab = h.keeper
	if h.hosp >= 0 {
		h.lab = h.hosp
	}
	if !h.now.After(h.birth) {
		return h // born after "today": a registration and nothing else
	}
	h.conditions()
	h.medications()
	h.allergies()
	h.immunisations()
	h.primaryCare()
	h.bloods()
	if h.hosp >= 0 {
		h.hospital()
	}
	for _, s := range h.comm {
		h.community(s)
	}
	h.isolate()
	for s, rs := range regs {
		if len(rs) == 2 {
			// A second registration holds what happened in one period.
			a := h.between(h.start, h.now)
			h.regCut[s] = [2]time.Time{a, a.Add(time.Duration(90+h.r.IntN(450)) * day)}
		}
	}
	return h
}

// chronic lists the problems the generator gives, with the age from which
// each can start, its yearly chance per year of age past that (capped),
// and whether it usually resolves.
var chronic = []struct {
	id       string
	from     float64
	base     float64 // probability at the starting age
	perYear  float64 // added per year of age past the start
	max      float64
	resolves float64 // share resolving after some months
	female   float64 // probability multiplier for women (0 means 1)
}{
	{"Hypertension", 35, 0.05, 0.012, 0.6, 0, 0},
	{"Type 2 diabetes", 35, 0.03, 0.003, 0.2, 0, 0},
	{"Hyperlipidaemia", 40, 0.08, 0.004, 0.3, 0, 0},
	{"Asthma", 3, 0.08, 0, 0.08, 0.1, 0},
	{"Atrial fibrillation", 60, 0.02, 0.005, 0.2, 0, 0},
	{"Osteoarthritis", 45, 0.05, 0.008, 0.4, 0, 0},
	{"Hypothyroidism", 20, 0.02, 0.0005, 0.06, 0, 2.5},
	{"Depression", 16, 0.08, 0, 0.08, 0.5, 1.5},
	{"Chronic kidney disease", 60, 0.04, 0.004, 0.25, 0, 0},
	{"Gout", 40, 0.02, 0.0005, 0.05, 0, 0.3},
	{"COPD", 45, 0.01, 0.002, 0.08, 0, 0},
	{"Heart failure", 65, 0.02, 0.003, 0.12, 0, 0},
	{"Anaemia", 16, 0.03, 0.0005, 0.06, 0.8, 1.5},
	{"Migraine", 12, 0.04, 0, 0.04, 0.3, 2},
	{"Eczema", 0, 0.08, 0, 0.08, 0.6, 0},
	{"Obesity", 18, 0.12, 0, 0.12, 0, 0},
	{"Back pain", 20, 0.1, 0.001, 0.15, 0.9, 0},
	{"Glaucoma", 55, 0.01, 0.002, 0.06, 0, 0},
	{"Anxiety", 16, 0.06, 0, 0.06, 0.5, 1.5},
	{"Insomnia", 18, 0.03, 0.0005, 0.06, 0.8, 0},
}

// conditions draws the person's problems with their onsets.
func (h *history) conditions() {
	age := h.ageAt(h.now)
	for _, c := range chronic {
		if age < c.from+1 {
			continue
		}
		pr := min(c.base+c.perYear*(age-c.from), c.max)
		if h.p.female && c.female > 0 {
			pr *= c.female
		}
		if c.id == "Chronic kidney disease" && h.has("Type 2 diabetes") {
			pr *= 2
		}
		if h.r.Float64() >= pr {
			continue
		}
		lo := h.birth.AddDate(int(c.from), 0, 0)
		if y := time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC); lo.Before(y) {
			lo = y
		}
		// Most onsets fall inside the record, so its problems have a story.
		if h.r.Float64() < 0.6 && lo.Before(h.start) {
			lo = h.start
		}
		hi := h.now.Add(-60 * day)
		if !hi.After(lo) {
			continue
		}
		cd := condition{onset: h.between(lo, hi).Truncate(day)}
		if h.r.Float64() < c.resolves {
			r := cd.onset.Add(time.Duration(30+h.r.IntN(330)) * day)
			if r.Before(h.now.Add(-day)) {
				cd.resolved = r
			}
		}
		h.cond[c.id] = cd
		fi := h.add("problem-"+c.id, cd.onset, merge.PrecisionDay, h.keeper)
		f := &h.facts[fi]
		f.end = cd.resolved
		if cd.resolved.IsZero() {
			f.holders[0].e.Status = "active"
		} else {
			f.holders[0].e.Status = "resolved"
		}
		// Hospitals and community services record long-term problems.
		for _, s := range h.others(h.keeper) {
			pr := 0.3
			if h.fg.roles[s] == roleHospital {
				pr = 0.5
			}
			if cd.resolved.IsZero() && h.r.Float64() < pr {
				h.copyTo(fi, s)
			}
		}
	}
}

// others returns the present sources other than s, in order.
func (h *history) others(s int) []int {
	var out []int
	for o, ok := range h.present {
		if ok && o != s {
			out = append(out, o)
		}
	}
	return out
}

// course is a medication a condition leads to.
type course struct {
	drug      string
	problem   string
	share     float64
	short     bool // a few separate short courses rather than repeats
	doseTwice float64
}

var courses = []course{
	{"Ramipril", "Hypertension", 0.6, false, 0.3},
	{"Amlodipine", "Hypertension", 0.45, false, 0.2},
	{"Indapamide", "Hypertension", 0.15, false, 0},
	{"Doxazosin", "Hypertension", 0.08, false, 0},
	{"Metformin", "Type 2 diabetes", 0.9, false, 0.3},
	{"Atorvastatin", "Hyperlipidaemia", 0.8, false, 0.2},
	{"Simvastatin", "Type 2 diabetes", 0.4, false, 0},
	{"Apixaban", "Atrial fibrillation", 0.7, false, 0},
	{"Warfarin", "Atrial fibrillation", 0.3, false, 0},
	{"Bisoprolol", "Atrial fibrillation", 0.6, false, 0.3},
	{"Digoxin", "Atrial fibrillation", 0.1, false, 0},
	{"Levothyroxine", "Hypothyroidism", 0.95, false, 0.4},
	{"Sertraline", "Depression", 0.5, false, 0.3},
	{"Citalopram", "Depression", 0.3, false, 0},
	{"Mirtazapine", "Insomnia", 0.3, false, 0},
	{"Salbutamol", "Asthma", 0.95, false, 0},
	{"Salbutamol", "COPD", 0.9, false, 0},
	{"Prednisolone", "COPD", 0.5, true, 0},
	{"Prednisolone", "Asthma", 0.2, true, 0},
	{"Allopurinol", "Gout", 0.7, false, 0},
	{"Naproxen", "Gout", 0.5, true, 0},
	{"Furosemide", "Heart failure", 0.9, false, 0.2},
	{"Paracetamol", "Osteoarthritis", 0.6, false, 0},
	{"Naproxen", "Back pain", 0.4, true, 0},
	{"Co-codamol", "Back pain", 0.3, true, 0},
	{"Gabapentin", "Back pain", 0.1, false, 0},
	{"Amitriptyline", "Migraine", 0.3, false, 0},
	{"Sertraline", "Anxiety", 0.4, false, 0},
	{"Omeprazole", "", 0.08, false, 0},
	{"Lansoprazole", "", 0.05, false, 0},
	{"Tamsulosin", "", 0.1, false, 0},
	{"Finasteride", "", 0.04, false, 0},
	{"Clopidogrel", "", 0.02, false, 0},
}

// medications draws the courses of treatment and their authorisations.
func (h *history) medications() {
	for _, c := range courses {
		drug := "drug-" + strings.ToLower(c.drug)
		if _, taken := h.meds[drug]; taken {
			continue
		}
		var from, until time.Time
		if c.problem == "" {
			if h.ageAt(h.now) < 40 || (strings.HasPrefix(c.drug, "Tam") || strings.HasPrefix(c.drug, "Fin")) && (h.p.female || h.ageAt(h.now) < 55) {
				continue
			}
			if h.r.Float64() >= c.share {
				continue
			}
			from = h.between(h.now.AddDate(-15, 0, 0), h.now.Add(-30*day))
		} else {
			cd, ok := h.cond[c.problem]
			if !ok || h.r.Float64() >= c.share {
				continue
			}
			from, until = cd.onset.Add(time.Duration(h.r.IntN(60))*day), cd.resolved
		}
		from = from.Truncate(day)
		if from.Before(h.birth) {
			from = h.birth
		}
		h.meds[drug] = from
		ci := h.fg.cid[drug]
		if c.short {
			for range 1 + h.r.IntN(3) {
				t := h.between(maxTime(from, h.start), h.now.Add(-day)).Truncate(day)
				h.authorise(ci, t, "completed", 1)
			}
			continue
		}
		stopped := until
		if stopped.IsZero() && h.r.Float64() < 0.15 {
			stopped = h.between(from, h.now).Truncate(day)
		}
		end := h.now
		if !stopped.IsZero() && stopped.Before(end) {
			end = stopped
		}
		twice := time.Time{}
		if h.r.Float64() < c.doseTwice {
			twice = h.between(from, end)
		}
		// Authorised at the start and re-authorised every six to twelve
		// months; only those inside the record are written.
		var last int32 = -1
		for t := from; t.Before(end); t = t.Add(time.Duration(180+h.r.IntN(180)) * day) {
			if t.Before(h.start) {
				continue
			}
			mult := 1.0
			if !twice.IsZero() && !t.Before(twice) {
				mult = 2
			}
			last = h.authorise(ci, t, "completed", mult)
		}
		if last >= 0 {
			st := "active"
			if !stopped.IsZero() && stopped.Before(h.now) {
				st = "stopped"
			}
			for i := range h.facts[last].holders {
				h.facts[last].holders[i].e.Status = st
			}
		}
	}
}

// authorise adds one prescription of drug ci, copied by the sources that
// keep medication lists. It returns the fact's index.
func (h *history) authorise(ci int32, t time.Time, status string, mult float64) int32 {
	fi := h.addCI(ci, t, merge.PrecisionDay, h.keeper)
	f := &h.facts[fi]
	e := &f.holders[0].e
	if e.Dose != nil && mult != 1 {
		e.Dose = &merge.Quantity{Value: e.Dose.Value * mult, Unit: e.Dose.Unit}
	}
	e.Status = status
	for _, s := range h.others(h.keeper) {
		pr := 0.2
		if h.fg.roles[s] == roleHospital {
			pr = 0.3
		}
		if h.r.Float64() < pr {
			h.copyTo(fi, s)
		}
	}
	return fi
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

var allergens = []struct {
	id     string
	weight float64
}{{"Penicillin", 0.5}, {"Peanut", 0.1}, {"Latex", 0.05}, {"Aspirin", 0.1}, {"Codeine", 0.15}, {"Sulfonamide", 0.1}}

// allergies draws none (most people), one or two allergies, recorded by
// the keeper and by most other sources when they learn of them.
func (h *history) allergies() {
	n := 0
	switch u := h.r.Float64(); {
	case u < 0.04:
		n = 2
	case u < 0.16:
		n = 1
	}
	var taken []string
	for range n {
		u := h.r.Float64()
		a := allergens[len(allergens)-1].id
		for _, al := range allergens {
			if u < al.weight {
				a = al.id
				break
			}
			u -= al.weight
		}
		if slices.Contains(taken, a) {
			continue
		}
		taken = append(taken, a)
		t := h.between(h.birth.Add(180*day), h.now.Add(-30*day)).Truncate(day)
		if !t.After(h.birth) {
			continue
		}
		fi := h.add("allergy-"+a, t, merge.PrecisionDay, h.keeper)
		hd := &h.facts[fi].holders[0]
		hd.reaction = hd.e.ValueText // clinFact's reaction
		hd.e.ValueText = criticality(hd.reaction)
		for _, s := range h.others(h.keeper) {
			if h.r.Float64() < 0.8 {
				h.copyTo(fi, s)
			}
		}
	}
}

func criticality(reaction string) string {
	if reaction == "Anaphylaxis" {
		return "high"
	}
	return "low"
}

// immunisations draws childhood, seasonal and one-off vaccinations.
func (h *history) immunisations() {
	give := func(id string, t time.Time) {
		if t.Before(h.start) || !t.Before(h.now.Add(-day)) {
			return
		}
		home := h.keeper
		if len(h.comm) > 0 && h.r.Float64() < 0.3 && !strings.Contains(id, "DTaP") && !strings.Contains(id, "MMR") && !strings.Contains(id, "MenB") {
			home = h.comm[h.r.IntN(len(h.comm))] // a community clinic or pharmacy
		}
		fi := h.add("imm-"+id, t.Truncate(day), merge.PrecisionDay, home)
		for _, s := range h.others(home) {
			pr := 0.1
			if s == h.keeper {
				pr = 0.9 // the practice is told
			}
			if h.r.Float64() < pr {
				h.copyTo(fi, s)
			}
		}
	}
	b := h.birth
	for _, w := range []int{8, 12, 16} {
		give("DTaP/IPV/Hib/HepB vaccine", b.Add(time.Duration(w*7+h.r.IntN(10))*day))
	}
	give("MenB vaccine", b.Add(time.Duration(8*7+h.r.IntN(10))*day))
	give("MenB vaccine", b.Add(time.Duration(16*7+h.r.IntN(10))*day))
	give("MMR vaccine", b.AddDate(1, 0, h.r.IntN(30)))
	give("MMR vaccine", b.AddDate(3, 4, h.r.IntN(30)))
	give("HPV vaccine", b.AddDate(12, 6, h.r.IntN(120)))
	give("Tetanus booster", b.AddDate(14, 0, h.r.IntN(200)))
	risk := h.has("Asthma") || h.has("COPD") || h.has("Type 2 diabetes") || h.has("Heart failure") || h.has("Chronic kidney disease")
	for y := h.start.Year(); y <= h.now.Year(); y++ {
		t := time.Date(y, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h.r.IntN(60)) * day)
		if a := h.ageAt(t); (a >= 65 || risk && a >= 18) && h.r.Float64() < 0.75 {
			give("Influenza vaccine", t)
		}
	}
	if h.r.Float64() < 0.7 {
		give("Pneumococcal vaccine", b.AddDate(65, h.r.IntN(10), h.r.IntN(28)))
	}
	if h.r.Float64() < 0.5 {
		give("Shingles vaccine", b.AddDate(70, h.r.IntN(24), h.r.IntN(28)))
	}
	if h.ageAt(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)) >= 18 && h.r.Float64() < 0.85 {
		first := time.Date(2021, 1, 10, 0, 0, 0, 0, time.UTC).Add(time.Duration(h.r.IntN(120)) * day)
		give("COVID-19 vaccine", first)
		give("COVID-19 vaccine", first.Add(time.Duration(60+h.r.IntN(30))*day))
		if h.r.Float64() < 0.7 {
			give("COVID-19 vaccine", time.Date(2021, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h.r.IntN(60))*day))
		}
		for y := 2022; y <= 2024; y++ {
			t := time.Date(y, 9, 20, 0, 0, 0, 0, time.UTC).Add(time.Duration(h.r.IntN(60)) * day)
			if h.ageAt(t) >= 65 && h.r.Float64() < 0.7 {
				give("COVID-19 vaccine", t)
			}
		}
	}
	if h.ageAt(h.now) >= 18 && h.r.Float64() < 0.03 {
		t := h.between(h.start, h.now)
		for _, m := range []int{0, 1, 6} {
			give("Hepatitis B vaccine", t.AddDate(0, m, 0))
		}
	}
}

// acute reasons for a GP consultation, with the note's history and plan.
var gpComplaints = []struct{ reason, history, plan string }{
	{"Cough", "Cough for %d days, productive of clear sputum. No fever, no haemoptysis, no weight loss.", "Likely viral. Fluids and paracetamol; return if breathless or not settling in three weeks."},
	{"Sore throat", "Sore throat for %d days. Eating and drinking. No stridor.", "FeverPAIN 1. No antibiotics. Safety-netting advice given."},
	{"Low back pain", "Low back pain for %d days after lifting. No red flags: no saddle anaesthesia, bladder and bowels normal.", "Mechanical back pain. Keep active, regular analgesia, physiotherapy self-referral."},
	{"Rash", "Itchy rash on forearms for %d days. No new soaps or medicines.", "Likely contact dermatitis. Emollients and mild topical steroid for one week."},
	{"Abdominal pain", "Intermittent upper abdominal pain for %d days, worse after meals. No vomiting, no melaena.", "Likely dyspepsia. Trial of PPI, bloods requested, review in four weeks."},
	{"Headache", "Headaches for %d days, band-like, worse when tired. No visual disturbance, no vomiting.", "Tension-type headache. Analgesia advice, avoid overuse, review if changing."},
	{"Dizziness", "Episodes of dizziness on standing for %d days. No falls, no chest pain.", "Postural symptoms. Lying and standing BP checked, fluids advised, bloods requested."},
	{"Tiredness", "Tired all the time for %d days. Sleeping poorly. Appetite normal.", "Bloods requested (FBC, U&E, TFT, ferritin). Review with results."},
	{"Urinary symptoms", "Dysuria and frequency for %d days. No loin pain, no fever.", "Likely lower UTI. Three days of nitrofurantoin; urine sent."},
	{"Knee pain", "Right knee pain for %d days, worse on stairs. No locking or giving way.", "Likely osteoarthritis. Weight advice, exercises, analgesia."},
	{"Low mood", "Low mood for %d days, poor sleep, reduced enjoyment. No thoughts of self-harm.", "Discussed talking therapies; self-referral details given. Review in two weeks."},
}

// primaryCare draws GP consultations with their notes and vital signs.
func (h *history) primaryCare() {
	if h.gp < 0 || !h.now.After(h.start) {
		return
	}
	act := h.fg.f.activity
	nChronic := 0
	for id := range h.cond {
		if h.cond[id].resolved.IsZero() {
			nChronic++
		}
	}
	age := h.ageAt(h.now)
	rate := min(0.8+0.03*age+0.7*float64(nChronic), 8) * act
	if age >= 18 {
		h.height = 176 + 7*h.r.NormFloat64()
		if h.p.female {
			h.height = 163 + 6*h.r.NormFloat64()
		}
		t := h.clinicTime(h.between(h.start, minTime(h.now.Add(-day), h.start.AddDate(1, 0, 0))))
		if t.After(h.birth.AddDate(18, 0, 0)) && t.Before(h.now) {
			h.vital("height", t, h.gp)
		}
	}
	for t := h.start.Add(h.expGap(rate)); t.Before(h.now.Add(-day)); t = t.Add(h.expGap(rate)) {
		at := h.clinicTime(t)
		if at.Before(h.start) || !at.Before(h.now) {
			continue
		}
		phone := h.r.Float64() < 0.3 || at.Year() >= 2020 && h.r.Float64() < 0.3
		enc, class := "enc-GP consultation", "AMB"
		if phone {
			enc, class = "enc-Telephone consultation", "VR"
		}
		ei := h.add(enc, at, merge.PrecisionMinute, h.gp)
		h.facts[ei].end = at.Add(time.Duration(8+h.r.IntN(10)) * time.Minute)
		h.facts[ei].class = class
		h.facts[ei].noCopy = true

		var obs []string
		if !phone {
			if (h.active("Hypertension", at) || h.ageAt(at) >= 40) && h.r.Float64() < 0.5 {
				sys := h.vital("systolic", at.Add(3*time.Minute), h.gp)
				dia := h.vital("diastolic", at.Add(3*time.Minute), h.gp)
				obs = append(obs, "BP "+fmtNum(sys)+"/"+fmtNum(dia)+".")
			}
			if h.ageAt(at) >= 18 && h.r.Float64() < 0.2 {
				w := h.vital("weight", at.Add(5*time.Minute), h.gp)
				obs = append(obs, "Weight "+fmtNum(w)+" kg.")
				if h.height > 0 && h.r.Float64() < 0.5 {
					h.valueFact("bmi", at.Add(5*time.Minute), h.gp, round(w/(h.height*h.height/10000), 1))
				}
			}
		}
		ni := h.add("doc-progress", at.Add(time.Duration(5+h.r.IntN(10))*time.Minute), merge.PrecisionSecond, h.gp)
		h.facts[ni].enc = ei
		h.facts[ni].noCopy = true
		h.facts[ni].text = h.consultationText(at, phone, obs)
		h.facts[ni].title = "Consultation note"

		// Minor procedures done at the practice.
		switch u := h.r.Float64(); {
		case u < 0.01 && h.ageAt(at) >= 18:
			h.procedure("Skin lesion excision", at.Add(20*time.Minute), h.gp)
		case u < 0.03 && h.active("Osteoarthritis", at):
			h.procedure("Knee injection", at.Add(15*time.Minute), h.gp)
		case u < 0.05 && (h.active("Asthma", at) || h.active("COPD", at)):
			h.procedure("Spirometry", at.Add(10*time.Minute), h.gp)
		case u < 0.07 && (h.active("Atrial fibrillation", at) || h.active("Hypertension", at)):
			h.procedure("ECG", at.Add(10*time.Minute), h.gp)
		}
	}
}

// expGap is the gap to the next event of a Poisson process of the given
// yearly rate.
func (h *history) expGap(rate float64) time.Duration {
	const never = 200 * 365 * day // beyond any record, within time.Duration
	if rate <= 0 {
		return never
	}
	return time.Duration(min(h.r.ExpFloat64()/rate*365.25*float64(day), float64(never)))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// consultationText writes a GP consultation note: a chronic disease review
// or an acute problem, with what was measured.
func (h *history) consultationText(at time.Time, phone bool, obs []string) string {
	var b strings.Builder
	if phone {
		b.WriteString("Telephone consultation. ")
	}
	var reviews []string
	for _, c := range chronic {
		if cd, ok := h.cond[c.id]; ok && cd.resolved.IsZero() && !cd.onset.After(at) && c.resolves == 0 {
			reviews = append(reviews, c.id)
		}
	}
	if len(reviews) > 0 && h.r.Float64() < 0.5 {
		p := reviews[h.r.IntN(len(reviews))]
		b.WriteString(p + " review. ")
		self := "himself"
		if h.p.female {
			self = "herself"
		}
		b.WriteString([]string{"Feels well in " + self + ". ", "No new symptoms. ", "Some tiredness, otherwise well. ", "Managing well at home. "}[h.r.IntN(4)])
		b.WriteString("Taking medication as prescribed, no side effects reported. ")
		for _, o := range obs {
			b.WriteString(o + " ")
		}
		b.WriteString([]string{"Continue current treatment. Annual bloods requested.", "Continue current plan, review in six months.", "Discussed diet and exercise. Repeat bloods in three months.", "Medication reviewed, no changes."}[h.r.IntN(4)])
		return b.String()
	}
	c := gpComplaints[h.r.IntN(len(gpComplaints))]
	b.WriteString(c.reason + ". ")
	b.WriteString(strings.Replace(c.history, "%d", fmtNum(float64(2+h.r.IntN(20))), 1) + " ")
	for _, o := range obs {
		b.WriteString(o + " ")
	}
	b.WriteString(c.plan)
	return b.String()
}

// fmtNum writes v in its shortest decimal form, as a clinician would.
func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// bloodTest is a set of tests taken together.
var panels = map[string][]string{
	"FBC":    {"haemoglobin", "wbc", "platelets"},
	"UE":     {"sodium", "potassium", "urea", "creatinine", "egfr"},
	"LFT":    {"alt", "bilirubin", "albumin"},
	"lipids": {"cholesterol", "triglycerides"},
	"hba1c":  {"hba1c"},
	"TFT":    {"tsh"},
	"bone":   {"calcium", "phosphate", "vitd"},
	"iron":   {"ferritin"},
	"PSA":    {"psa"},
	"INR":    {"inr"},
	"CRP":    {"crp"},
}

// bloods draws the blood tests of routine care and chronic disease
// monitoring. The laboratory (the hospital's, when the person has a
// hospital record) reports them and the practice files a copy.
func (h *history) bloods() {
	act := h.fg.f.activity
	type draw struct {
		t     time.Time
		panel string
	}
	var draws []draw
	every := func(panel string, from time.Time, months int, jitter int) {
		if from.Before(h.start) {
			from = h.start.Add(time.Duration(h.r.IntN(months*30)) * day)
		}
		step := max(time.Duration(float64(months*30)/act)*day, 30*day)
		for t := from; t.Before(h.now.Add(-2 * day)); t = t.Add(step + time.Duration(h.r.IntN(jitter+1))*day) {
			draws = append(draws, draw{t, panel})
		}
	}
	if h.ageAt(h.now) >= 18 {
		from := maxTime(h.start, h.birth.AddDate(18, 0, 0))
		every("FBC", from.Add(time.Duration(h.r.IntN(900))*day), 36, 300)
		every("UE", from.Add(time.Duration(h.r.IntN(900))*day), 36, 300)
		if h.r.Float64() < 0.5 {
			every("LFT", from.Add(time.Duration(h.r.IntN(900))*day), 48, 300)
		}
		if h.r.Float64() < 0.2 {
			every("bone", from.Add(time.Duration(h.r.IntN(1500))*day), 60, 300)
		}
		if !h.p.female && h.ageAt(h.now) >= 50 && h.r.Float64() < 0.3 {
			every("PSA", maxTime(from, h.birth.AddDate(50, 0, 0)), 24, 200)
		}
	}
	if cd, ok := h.cond["Type 2 diabetes"]; ok {
		every("hba1c", cd.onset.Add(14*day), 6, 40)
		every("UE", cd.onset.Add(20*day), 12, 60)
		every("lipids", cd.onset.Add(20*day), 12, 60)
	}
	if cd, ok := h.cond["Hypertension"]; ok {
		every("UE", cd.onset.Add(30*day), 12, 60)
	}
	if cd, ok := h.cond["Chronic kidney disease"]; ok {
		every("UE", cd.onset, 6, 40)
		every("FBC", cd.onset, 12, 60)
	}
	if cd, ok := h.cond["Hyperlipidaemia"]; ok {
		every("lipids", cd.onset, 12, 60)
		every("LFT", cd.onset.Add(90*day), 12, 60)
	}
	if cd, ok := h.cond["Hypothyroidism"]; ok {
		every("TFT", cd.onset.Add(-7*day), 12, 60)
	}
	if cd, ok := h.cond["Anaemia"]; ok {
		every("FBC", cd.onset.Add(-3*day), 3, 20)
		every("iron", cd.onset.Add(-3*day), 6, 20)
	}
	if s, ok := h.meds["drug-warfarin"]; ok {
		// Monitoring every few weeks over the last two years.
		every("INR", maxTime(s, h.now.AddDate(-2, 0, 0)), 2, 14)
	}
	slices.SortStableFunc(draws, func(a, b draw) int { return a.t.Compare(b.t) })
	last := map[string]time.Time{}
	for _, d := range draws {
		t := h.clinicTime(d.t)
		if !t.Before(h.now.Add(-day)) || t.Before(h.birth) {
			continue
		}
		origin := h.lab
		if d.panel == "INR" && len(h.comm) > 0 {
			origin = h.comm[0] // the anticoagulation clinic tests at the point of care
		}
		for _, test := range panels[d.panel] {
			if l, ok := last[test]; ok && t.Sub(l) < 10*day {
				continue // already measured in a draw days ago
			}
			last[test] = t
			fi := h.valueFact(test, t, origin, h.labValue(h.fg.cid[test], t))
			if origin != h.keeper && h.present[h.keeper] && h.r.Float64() < 0.9 {
				h.copyTo(fi, h.keeper)
			}
		}
	}
}

// labLevelOf returns the person's level of concept ci, drawn once.
func (h *history) labLevelOf(ci int32) labLevel {
	if l, ok := h.labs[ci]; ok {
		return l
	}
	c := &h.fg.concepts[ci]
	l := labLevel{base: c.mean + 0.5*c.sd*h.r.NormFloat64()}
	age := h.ageAt(h.now)
	switch c.id {
	case "haemoglobin":
		l.base = 148 + 8*h.r.NormFloat64()
		if h.p.female {
			l.base = 132 + 8*h.r.NormFloat64()
		}
	case "egfr":
		l.base = min(100-0.8*max(age-30, 0)+8*h.r.NormFloat64(), 120)
		l.base = max(l.base, 62)
		if h.has("Chronic kidney disease") {
			l.base, l.drift = 52+6*h.r.NormFloat64(), -1.5-h.r.Float64()
		}
	case "creatinine":
		l.base = 78 + 10*h.r.NormFloat64()
		if h.has("Chronic kidney disease") {
			l.base, l.drift = 125+15*h.r.NormFloat64(), 3
		}
	case "potassium":
		if h.has("Chronic kidney disease") {
			l.base += 0.3
		}
	case "hba1c":
		l.base = 5.4 + 0.3*h.r.NormFloat64()
		if h.has("Type 2 diabetes") {
			l.base, l.drift = 7.9+0.6*h.r.NormFloat64(), 0.05
		}
	case "glucose":
		if h.has("Type 2 diabetes") {
			l.base = 8.5 + h.r.NormFloat64()
		}
	case "cholesterol":
		if h.has("Hyperlipidaemia") || h.has("Type 2 diabetes") {
			l.base = 6.6 + 0.5*h.r.NormFloat64()
		}
	case "tsh":
		l.base = 1.8 + 0.6*h.r.NormFloat64()
	case "ferritin":
		if h.has("Anaemia") {
			l.base = 18 + 5*h.r.NormFloat64()
		}
	case "inr":
		l.base = 2.5
	}
	h.labs[ci] = l
	return l
}

// labValue draws a result of concept ci at t in its first unit: the
// person's level, its drift, the effect of conditions and treatment, and
// measurement noise.
func (h *history) labValue(ci int32, t time.Time) float64 {
	c := &h.fg.concepts[ci]
	l := h.labLevelOf(ci)
	v := l.base + l.drift*years(t.Sub(h.start)) + 0.25*c.sd*h.r.NormFloat64()
	switch c.id {
	case "hba1c":
		if h.onTreatment("drug-metformin", t) {
			v -= min(1.2, 0.6*years(t.Sub(h.meds["drug-metformin"])))
		}
	case "cholesterol":
		if h.onTreatment("drug-atorvastatin", t) || h.onTreatment("drug-simvastatin", t) {
			v -= 1.6
		}
	case "tsh":
		if cd, ok := h.cond["Hypothyroidism"]; ok && !t.Before(cd.onset.Add(-30*day)) && !h.onTreatment("drug-levothyroxine", t.Add(-60*day)) {
			v += 6
		}
	case "haemoglobin":
		if h.active("Anaemia", t.Add(10*day)) {
			v -= 25
		}
	case "egfr":
		v = min(v, 120)
	}
	v = max(v, c.mean/5)
	return round(v, c.units[0].dec)
}

// vital draws an observation of concept id at t, held by src, and returns
// its value.
func (h *history) vital(id string, t time.Time, src int) float64 {
	ci := h.fg.cid[id]
	c := &h.fg.concepts[ci]
	v := c.mean + 0.3*c.sd*h.r.NormFloat64()
	switch id {
	case "systolic":
		v = 122 + 0.4*max(h.ageAt(t)-40, 0) + 10*h.r.NormFloat64()
		if h.active("Hypertension", t) {
			v = 154 + 10*h.r.NormFloat64()
			if h.onTreatment("drug-ramipril", t) || h.onTreatment("drug-amlodipine", t) {
				v -= 18
			}
		}
	case "diastolic":
		v = 76 + 7*h.r.NormFloat64()
		if h.active("Hypertension", t) && !h.onTreatment("drug-ramipril", t) {
			v += 10
		}
	case "weight":
		l := h.labLevelOf(ci)
		base := 84.0
		if h.p.female {
			base = 70
		}
		if h.has("Obesity") {
			base += 25
		}
		if a := h.ageAt(t); a < 18 {
			base = 3.5 + 3.6*a
		}
		v = base + (l.base-c.mean)*0.8 + 0.3*years(t.Sub(h.start)) + 1.2*h.r.NormFloat64()
	case "height":
		v = h.height
	case "heart-rate":
		if h.active("Atrial fibrillation", t) {
			v += 12 + 10*h.r.Float64()
		}
	case "pain":
		v = float64(h.r.IntN(8))
	case "spo2":
		v = min(v, 100)
	}
	v = round(max(v, c.mean/5), c.units[0].dec)
	h.valueFact(id, t, src, v)
	return v
}

// valueFact adds a result or observation of concept id with value v (in
// the concept's first unit) and returns its index.
func (h *history) valueFact(id string, t time.Time, src int, v float64) int32 {
	ci := h.fg.cid[id]
	fi := h.addCI(ci, t, merge.PrecisionMinute, src)
	e := &h.facts[fi].holders[0].e
	e.Value = &merge.Quantity{Value: v, Unit: h.fg.concepts[ci].units[0].code}
	return fi
}

// procedure adds a procedure performed at t by src.
func (h *history) procedure(name string, t time.Time, src int) int32 {
	fi := h.add("proc-"+name, t, merge.PrecisionMinute, src)
	h.facts[fi].holders[0].e.Status = "completed"
	return fi
}

// hospitalReasons are why people are admitted, with the tests, imaging and
// the summary's course.
var hospitalReasons = []struct {
	reason, course string
	procs          []string
}{
	{"Chest pain", "Serial troponins negative, ECG without acute changes. Likely musculoskeletal.", []string{"ECG", "Chest X-ray"}},
	{"Community-acquired pneumonia", "Right lower lobe consolidation. Treated with IV then oral antibiotics, improving.", []string{"Chest X-ray"}},
	{"Fall at home", "No fracture. Seen by physiotherapy and occupational therapy; mobile with a frame.", []string{"Chest X-ray"}},
	{"Acute kidney injury", "Pre-renal AKI with dehydration. IV fluids, ACE inhibitor held, creatinine improving.", []string{"Ultrasound abdomen"}},
	{"Exacerbation of COPD", "Nebulisers, steroids and antibiotics. Back to baseline oxygen saturations.", []string{"Chest X-ray"}},
	{"Decompensated heart failure", "IV diuretics with good response, weight down 4 kg. Echo arranged.", []string{"Echocardiogram", "Chest X-ray"}},
	{"Cellulitis of leg", "IV flucloxacillin, switched to oral on day 3. Erythema receding.", nil},
	{"Abdominal pain", "CT abdomen unremarkable. Pain settled with simple analgesia.", []string{"CT abdomen"}},
	{"Upper GI bleed", "Endoscopy: duodenal ulcer, treated. Haemoglobin stable after transfusion.", []string{"Endoscopy"}},
}

// childReasons are why children are admitted.
var childReasons = []struct {
	reason, course string
	procs          []string
}{
	{"Bronchiolitis", "Supportive care with nasal oxygen and feeding support. Improved steadily.", nil},
	{"Gastroenteritis with dehydration", "Oral rehydration via nasogastric tube, now tolerating fluids.", nil},
	{"Febrile convulsion", "Single short seizure with fever from a viral illness. Parents given advice.", nil},
	{"Wheeze with viral infection", "Salbutamol and oral steroids, weaned to four-hourly before discharge.", []string{"Chest X-ray"}},
}

// paediatricClinic is the clinic children are seen in.
var paediatricClinic = struct{ clinic, letter, proc string }{
	"Paediatric", "Reviewed with a parent. Growth and development normal for age. Discharged to GP care.", "",
}

// clinics are outpatient specialties, the letter's gist and what they may
// do.
var clinics = []struct{ clinic, letter, proc string }{
	{"Cardiology", "Reviewed for palpitations. Echo shows good LV function. Continue current medication; discharged to GP care.", "Echocardiogram"},
	{"Gastroenterology", "Change in bowel habit. Colonoscopy normal to the caecum. No further follow-up needed.", "Colonoscopy"},
	{"Ophthalmology", "Cataract affecting vision; listed for surgery. Drops continued.", "Cataract extraction"},
	{"Orthopaedics", "Knee osteoarthritis. Conservative management, physiotherapy referral, review in six months.", ""},
	{"Diabetes", "Annual review. Foot checks normal, retinal screening up to date. Medication unchanged.", ""},
	{"Respiratory", "Spirometry consistent with obstructive airways disease. Inhaler technique reviewed.", "Spirometry"},
	{"Renal", "Stable CKD. Blood pressure target discussed. Continue ACE inhibitor, annual review.", "Ultrasound abdomen"},
	{"Spinal", "Persistent back pain with leg symptoms. MRI shows degenerative change without compression.", "MRI spine"},
}

// hospital draws emergency attendances, admissions and outpatient visits at
// the hospital, each with its observations, tests, procedures and letters.
func (h *history) hospital() {
	s := h.hosp
	act := h.fg.f.activity
	age := h.ageAt(h.now)
	nChronic := float64(len(h.cond))
	admit := (0.01 + 0.004*max(age-50, 0) + 0.03*nChronic) * act
	ed := (0.06 + 0.002*age) * act
	opd := (0.1 + 0.08*nChronic) * act
	n := 0
	for t := h.start.Add(h.expGap(admit)); t.Before(h.now.Add(-10 * day)); t = t.Add(h.expGap(admit)) {
		h.admission(s, h.between(t, t.Add(day)))
		n++
	}
	for t := h.start.Add(h.expGap(ed)); t.Before(h.now.Add(-day)); t = t.Add(h.expGap(ed)) {
		h.emergency(s, h.between(t, t.Add(day)))
		n++
	}
	for t := h.start.Add(h.expGap(opd)); t.Before(h.now.Add(-10 * day)); t = t.Add(h.expGap(opd)) {
		h.outpatient(s, h.clinicTime(t))
		n++
	}
	if n == 0 && h.now.Sub(h.start) > 20*day {
		// Everyone the hospital knows has been seen there at least once.
		h.outpatient(s, h.clinicTime(h.between(h.start, h.now.Add(-10*day))))
	}
}

// observationSet records the usual hospital observations at t.
func (h *history) observationSet(s int, t time.Time, unwell bool) {
	for _, id := range []string{"heart-rate", "systolic", "diastolic", "temperature", "resp-rate", "spo2"} {
		fi := h.vital2(id, t, s, unwell)
		h.facts[fi].noCopy = true
	}
}

// vital2 is vital with the shift of an acute illness.
func (h *history) vital2(id string, t time.Time, s int, unwell bool) int32 {
	n := len(h.facts)
	h.vital(id, t, s)
	fi := int32(n)
	if unwell {
		q := h.facts[fi].holders[0].e.Value
		c := &h.fg.concepts[h.facts[fi].ci]
		switch id {
		case "heart-rate":
			q.Value = round(q.Value+15, 0)
		case "temperature":
			q.Value = round(q.Value+0.6+0.6*h.r.Float64(), c.units[0].dec)
		case "resp-rate":
			q.Value = round(q.Value+5, 0)
		case "spo2":
			q.Value = round(q.Value-3, 0)
		}
	}
	return fi
}

// inpatientBloods records tests taken during a stay: they stay in the
// hospital's record.
func (h *history) inpatientBloods(s int, t time.Time, acute bool) {
	for _, panel := range []string{"FBC", "UE", "CRP"} {
		for _, test := range panels[panel] {
			ci := h.fg.cid[test]
			v := h.labValue(ci, t)
			if acute {
				switch test {
				case "crp":
					v = round(40+80*h.r.Float64(), 0)
				case "wbc":
					v = round(v+5, 1)
				}
			}
			fi := h.valueFact(test, t, s, v)
			h.facts[fi].noCopy = true
		}
	}
}

func (h *history) admission(s int, t time.Time) {
	r := hospitalReasons[h.r.IntN(len(hospitalReasons))]
	if h.ageAt(t) < 16 {
		r = childReasons[h.r.IntN(len(childReasons))]
	}
	stay := time.Duration(1+h.r.IntN(8)) * day
	end := t.Add(stay + time.Duration(h.r.IntN(600))*time.Minute)
	if !end.Before(h.now) {
		return
	}
	ei := h.add("enc-Hospital admission", t, merge.PrecisionMinute, s)
	h.facts[ei].end, h.facts[ei].class, h.facts[ei].noCopy = end, "IMP", true
	for k := time.Duration(0); k < stay && k < 3*day; k += 12 * time.Hour {
		h.observationSet(s, t.Add(30*time.Minute+k), k == 0)
	}
	h.inpatientBloods(s, t.Add(45*time.Minute), true)
	if stay >= 3*day {
		h.inpatientBloods(s, t.Add(2*day).Truncate(day).Add(7*time.Hour), false)
	}
	for _, p := range r.procs {
		pi := h.procedure(p, h.between(t.Add(time.Hour), t.Add(stay/2+time.Hour)), s)
		if h.present[h.keeper] && h.keeper != s && h.r.Float64() < 0.6 {
			h.copyTo(pi, h.keeper)
		}
	}
	days := int(end.Sub(t) / day)
	text := "Admitted with " + strings.ToLower(r.reason) + ". " + r.course + " Discharged home after " + fmtNum(float64(max(days, 1))) + " days. " +
		[]string{"GP to review bloods in one week.", "No medication changes.", "GP to review blood pressure and renal function in two weeks.", "Follow-up in clinic in six weeks."}[h.r.IntN(4)]
	h.document("doc-discharge", end, s, ei, "Discharge summary", text)
}

func (h *history) emergency(s int, t time.Time) {
	end := t.Add(time.Duration(90+h.r.IntN(300)) * time.Minute)
	if !end.Before(h.now) {
		return
	}
	ei := h.add("enc-Emergency attendance", t, merge.PrecisionMinute, s)
	h.facts[ei].end, h.facts[ei].class, h.facts[ei].noCopy = end, "EMER", true
	h.observationSet(s, t.Add(20*time.Minute), h.r.IntN(2) == 0)
	if h.r.Float64() < 0.5 {
		h.inpatientBloods(s, t.Add(40*time.Minute), false)
	}
	if h.r.Float64() < 0.3 {
		pi := h.procedure("Chest X-ray", t.Add(time.Hour), s)
		if h.present[h.keeper] && h.keeper != s && h.r.Float64() < 0.3 {
			h.copyTo(pi, h.keeper)
		}
	}
}

func (h *history) outpatient(s int, t time.Time) {
	c := clinics[h.r.IntN(len(clinics))]
	if h.ageAt(t) < 16 {
		c = paediatricClinic
	}
	ei := h.add("enc-Outpatient attendance", t, merge.PrecisionMinute, s)
	h.facts[ei].end, h.facts[ei].class, h.facts[ei].noCopy = t.Add(time.Duration(15+h.r.IntN(30))*time.Minute), "AMB", true
	if c.proc != "" && h.r.Float64() < 0.5 {
		pt := t.Add(time.Duration(20+h.r.IntN(40)) * time.Minute)
		if c.proc == "Cataract extraction" || c.proc == "Colonoscopy" {
			pt = h.clinicTime(t.Add(time.Duration(20+h.r.IntN(60)) * day))
		}
		if pt.Before(h.now.Add(-day)) {
			pi := h.procedure(c.proc, pt, s)
			if h.present[h.keeper] && h.keeper != s && h.r.Float64() < 0.6 {
				h.copyTo(pi, h.keeper)
			}
		}
	}
	letter := h.clinicTime(t.Add(time.Duration(1+h.r.IntN(6)) * day))
	if letter.Before(h.now.Add(-day)) {
		h.document("doc-letter", letter, s, ei, c.clinic+" clinic letter", "Seen in the "+c.clinic+" clinic. "+c.letter)
	}
}

// document adds a letter or summary written by s, sent to the practice.
func (h *history) document(id string, t time.Time, s int, enc int32, title, text string) {
	di := h.add(id, t, merge.PrecisionSecond, s)
	f := &h.facts[di]
	f.enc, f.title, f.text = enc, title, text
	if h.present[h.keeper] && h.keeper != s && h.r.Float64() < 0.85 {
		h.copyTo(di, h.keeper)
	}
}

// nurseVisits are what a community nurse records.
var nurseVisits = []string{
	"Leg ulcer dressing changed. Wound bed granulating, less exudate. Skin intact around the wound.",
	"Insulin and blood glucose review. Readings stable. Injection sites checked.",
	"Catheter care. Draining well, urine clear. No signs of infection.",
	"Pressure areas checked, skin intact. Repositioning advice given to carer.",
	"Post-operative wound check. Clips removed, wound healed.",
	"Blood pressure and medication review at home. Managing tablets with a dosette box.",
}

// community draws episodes of community care: runs of home visits with a
// nurse note, observations and sometimes a weight, the observations often
// shared with the practice.
func (h *history) community(s int) {
	age := h.ageAt(h.now)
	episodes := 1
	if age >= 70 || h.has("Heart failure") {
		episodes += int(h.r.ExpFloat64() * 1.5 * h.fg.f.activity)
	}
	for range episodes {
		start := h.clinicTime(h.between(h.start, h.now.Add(-20*day)))
		if start.Before(h.start) {
			continue
		}
		task := nurseVisits[h.r.IntN(len(nurseVisits))]
		visits := 1 + h.r.IntN(3)
		if age >= 70 {
			visits += h.r.IntN(8)
		}
		t := start
		for range visits {
			if !t.Before(h.now.Add(-day)) {
				break
			}
			ei := h.add("enc-Home visit", t, merge.PrecisionMinute, s)
			h.facts[ei].end, h.facts[ei].class, h.facts[ei].noCopy = t.Add(time.Duration(20+h.r.IntN(30))*time.Minute), "HH", true
			var obs []string
			if h.r.Float64() < 0.6 {
				sys := h.vital("systolic", t.Add(5*time.Minute), s)
				h.shareObs(s)
				dia := h.vital("diastolic", t.Add(5*time.Minute), s)
				h.shareObs(s)
				hr := h.vital("heart-rate", t.Add(5*time.Minute), s)
				obs = append(obs, "BP "+fmtNum(sys)+"/"+fmtNum(dia)+", pulse "+fmtNum(hr)+".")
			}
			if h.r.Float64() < 0.4 {
				p := h.vital("pain", t.Add(6*time.Minute), s)
				obs = append(obs, "Pain "+fmtNum(p)+"/10.")
			}
			if h.r.Float64() < 0.2 && age >= 18 {
				w := h.vital("weight", t.Add(7*time.Minute), s)
				h.shareObs(s)
				obs = append(obs, "Weight "+fmtNum(w)+" kg.")
			}
			ni := h.add("doc-nurse", t.Add(time.Duration(15+h.r.IntN(15))*time.Minute), merge.PrecisionSecond, s)
			f := &h.facts[ni]
			f.enc, f.noCopy, f.title = ei, true, "Nurse visit note"
			f.text = "Home visit. " + task + " " + strings.Join(obs, " ") + " " +
				[]string{"Next visit in one week.", "Next visit in two weeks.", "Discharged from caseload.", "Carer present; no concerns raised."}[h.r.IntN(4)]
			t = h.clinicTime(t.Add(time.Duration(5+h.r.IntN(12)) * day))
		}
	}
}

// shareObs copies the observation just added by community source s to the
// practice, as a shared record does for some of them.
func (h *history) shareObs(s int) {
	if h.gp >= 0 && h.r.Float64() < 0.3 {
		h.copyTo(int32(len(h.facts)-1), h.gp)
	}
}

// add adds a fact of concept id at t, originated by src, in the canonical
// form clinFact draws, styled as src writes it. It returns its index.
func (h *history) add(id string, t time.Time, prec merge.Precision, src int) int32 {
	ci, ok := h.fg.cid[id]
	if !ok {
		panic("benchmarks: unknown concept " + id) // a table error
	}
	return h.addCI(ci, t, prec, src)
}

func (h *history) addCI(ci int32, t time.Time, prec merge.Precision, src int) int32 {
	c := &h.fg.concepts[ci]
	cc := clinCategoryOf(c.cat)
	fi := int32(len(h.facts))
	e := clinFact(h.r, c, cc, fi)
	e.Text = "" // bodies are the notes' own
	e.Time, e.Precision = t, prec
	clinStyle(&e, h.r, c, int(ci), 0, h.fg.styles[src], h.fg.g.r.sources[src])
	h.facts = append(h.facts, fhirFact{ci: ci, t: t, enc: -1, holders: []rendition{{src: src, e: e}}})
	return fi
}

func clinCategoryOf(cat merge.Category) clinCategory {
	for _, cc := range clinCategories {
		if cc.cat == cat {
			return cc
		}
	}
	return clinCategory{cat: cat}
}

// copyTo adds source s's record of fact fi: the fact as s writes it, at a
// time near the origin's, sometimes disagreeing with it.
func (h *history) copyTo(fi int32, s int) {
	f := &h.facts[fi]
	if f.noCopy || s < 0 || !h.present[s] {
		return
	}
	for _, hd := range f.holders {
		if hd.src == s {
			return
		}
	}
	c := &h.fg.concepts[f.ci]
	cc := clinCategoryOf(c.cat)
	home := f.holders[0]
	cp := rendition{src: s, e: home.e, reaction: home.reaction}
	cp.e.Codes = nil
	// Start from the canonical content: clinStyle converts units from the
	// concept's first unit and re-words from the canonical display.
	cp.e.Display = c.display[0]
	if cp.e.Value != nil {
		cp.e.Value = &merge.Quantity{Value: home.e.Value.Value, Unit: c.units[0].code}
	}
	if h.r.Float64() < h.fg.f.conflictRate {
		switch {
		case c.cat == merge.CategoryAllergy:
			cp.conflict = true
			if cp.e.ValueText == "high" {
				cp.e.ValueText, cp.reaction = "low", "Rash"
			} else {
				cp.e.ValueText, cp.reaction = "high", "Anaphylaxis"
			}
		case cp.e.Value != nil || cp.e.Dose != nil:
			cp.conflict = clinConflict(h.r, &cp.e)
		}
	}
	h.copyTime(&cp.e, &cc, f.t)
	if !cp.e.Time.Before(h.now) || cp.e.Time.Before(h.birth) {
		return
	}
	if c.cat == merge.CategoryAllergy && cp.reaction != "" && h.r.IntN(4) == 0 && !cp.conflict {
		cp.e.ValueText = "" // criticality not recorded
	}
	clinStyle(&cp.e, h.r, c, int(f.ci), 1+h.r.IntN(4), h.fg.styles[s], h.fg.g.r.sources[s])
	if c.cat == merge.CategoryNote || c.cat == merge.CategoryDocument {
		cp.e.Display = c.display[h.r.IntN(len(c.display))]
	}
	f.holders = append(f.holders, cp)
}

// copyTime sets a copy's time: results and observations as clinCopyTime
// does; medications, problems and immunisations recorded days later;
// procedures on the day; documents when they arrive; allergies whenever the
// source learnt of them.
func (h *history) copyTime(e *merge.Entry, cc *clinCategory, t time.Time) {
	switch cc.cat {
	case merge.CategoryResult, merge.CategoryObservation:
		clinCopyTime(e, h.r, cc, t)
	case merge.CategoryMedication:
		e.Time, e.Precision = t.Truncate(day).Add(time.Duration(1+h.r.IntN(7))*day), merge.PrecisionDay
	case merge.CategoryProblem:
		e.Time, e.Precision = t.Truncate(day).Add(time.Duration(h.r.IntN(30))*day), merge.PrecisionDay
		if h.r.IntN(3) == 0 {
			e.Time, e.Precision = time.Date(e.Time.Year(), e.Time.Month(), 1, 0, 0, 0, 0, time.UTC), merge.PrecisionMonth
		}
	case merge.CategoryImmunisation:
		e.Time, e.Precision = t.Truncate(day).Add(time.Duration(h.r.IntN(4))*day), merge.PrecisionDay
	case merge.CategoryProcedure:
		if h.r.Float64() < 0.7 {
			e.Time, e.Precision = t.Truncate(day), merge.PrecisionDay
		} else {
			e.Time, e.Precision = t.Add(time.Duration(h.r.IntN(240)-120)*time.Minute).Truncate(time.Minute), merge.PrecisionMinute
		}
	case merge.CategoryDocument, merge.CategoryNote:
		e.Time, e.Precision = t.Add(time.Duration(60+h.r.IntN(19*60))*time.Minute).Truncate(time.Second), merge.PrecisionSecond
	case merge.CategoryAllergy:
		d := h.now.Sub(t)/day - 1
		e.Time, e.Precision = t.Add(time.Duration(h.r.Int64N(int64(max(d, 1))))*day).Truncate(day), merge.PrecisionDay
	default:
		e.Time, e.Precision = t, merge.PrecisionMinute
	}
}

// separation is how far apart two facts of one concept must be when
// different sources hold them, so that no record of one can fall within
// merge's window of a record of the other: the category's minimum gap
// plus twice its copy shift, wider for the categories whose copies move by
// days.
func separation(cat merge.Category) time.Duration {
	switch cat {
	case merge.CategoryAllergy:
		return 200 * 365 * day
	case merge.CategoryDocument:
		return 3 * day
	case merge.CategoryNote:
		return 3 * time.Hour
	case merge.CategoryEncounter:
		return 2 * day
	}
	cc := clinCategoryOf(cat)
	return cc.minGap + 2*cc.shift
}

// isolate keeps the truth decidable: two facts of one concept closer than
// their category's separation may stand only when a single source holds
// both (a source repeating a test on the ward). Otherwise the later one
// loses its copies, and is dropped if that is not enough.
func (h *history) isolate() {
	idx := make([]int32, len(h.facts))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int {
		fa, fb := &h.facts[a], &h.facts[b]
		if fa.ci != fb.ci {
			return int(fa.ci - fb.ci)
		}
		return fa.t.Compare(fb.t)
	})
	var kept []int32
	clash := func(f *fhirFact) bool {
		sep := separation(h.fg.concepts[f.ci].cat)
		for _, k := range slices.Backward(kept) {
			g := &h.facts[k]
			if g.ci != f.ci || f.t.Sub(g.t) >= sep {
				break
			}
			if len(f.holders) > 1 || len(g.holders) > 1 || f.holders[0].src != g.holders[0].src {
				return true
			}
		}
		return false
	}
	for _, i := range idx {
		f := &h.facts[i]
		if len(kept) > 0 && h.facts[kept[len(kept)-1]].ci != f.ci {
			kept = kept[:0]
		}
		if clash(f) {
			f.holders = f.holders[:1]
			if clash(f) {
				f.dropped = true
				continue
			}
		}
		kept = append(kept, i)
	}
}
