package benchmarks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// ClinicalOptions configure [GenerateClinical]. The zero value works.
type ClinicalOptions struct {
	// Seed makes the set reproducible.
	Seed uint64
	// Sources is the number of sources; zero means 8.
	Sources int
	// Entries is the approximate number of entries over all sources; zero
	// means 10,000.
	Entries int
	// DupRate is the share of entries that are copies of a fact another
	// source also holds; zero means 0.2.
	DupRate float64
	// ConflictRate is the share of copies that disagree with the fact they
	// copy (another value or dose): true conflicts, which must not be merged.
	// Zero means 0.02; negative means none.
	ConflictRate float64
	// Years is the span of the record; zero means 20.
	Years int
}

// ClinicalSet is one heavy patient's clinical record as several sources hold
// it, with the truth of which entries are the same fact.
type ClinicalSet struct {
	// Sources holds each source's entries sorted by [merge.Compare].
	Sources [][]merge.Entry
	// Facts[s][i] is the fact id of Sources[s][i]: entries sharing a fact
	// id are the same fact and should be merged.
	Facts [][]int32
	// ConflictOf maps a fact that is a disagreeing copy to the fact it
	// disagrees with; the two must not be merged.
	ConflictOf map[int32]int32
	// Rules are the code maps, molar masses and tolerances the set needs,
	// as data (what a site would load from JSON).
	Rules *merge.Rules
	// Copies is the number of entries that copy a fact held by another
	// source (conflicting copies included).
	Copies int
}

// Code systems used by the generator. Codes other than LOINC are synthetic.
const (
	sysLOINC  = "http://loinc.org"
	sysSNOMED = "http://snomed.info/sct"
	sysRead   = "http://read.info/readv2"
	sysDMD    = "https://dmd.nhs.uk"
	sysLocal  = "https://carelens.example/local"
)

// clinUnit is one unit a concept is reported in: value = base*scale, rounded
// to dec decimals (offset for temperature).
type clinUnit struct {
	code   string
	scale  float64
	offset float64
	dec    int
}

// clinConcept is one thing the generator records.
type clinConcept struct {
	id       string
	cat      merge.Category
	display  []string // wording variants; [0] is canonical
	loinc    string   // real LOINC code where the concept has one
	units    []clinUnit
	mean, sd float64 // in units[0]
	molar    float64
	text     []string // coded values (allergy reaction, etc.)
}

// clinCategory is a category's share of facts and how its facts spread.
type clinCategory struct {
	cat      merge.Category
	weight   float64
	minGap   time.Duration // independent facts of one concept at least this far apart
	shift    time.Duration // a copy's time differs by up to this
	dayShare float64       // share of copies recorded to the day only
	resource string
}

var clinCategories = []clinCategory{
	{merge.CategoryObservation, 0.588, 6 * time.Hour, 20 * time.Minute, 0, "Observation"},
	{merge.CategoryResult, 0.22, 96 * time.Hour, 6 * time.Hour, 0.3, "Observation"},
	{merge.CategoryMedication, 0.03, 30 * 24 * time.Hour, 5 * 24 * time.Hour, 1, "MedicationStatement"},
	{merge.CategoryNote, 0.06, 0, 20 * time.Minute, 0, "DocumentReference"},
	{merge.CategoryDocument, 0.03, 0, 6 * time.Hour, 0, "DocumentReference"},
	{merge.CategoryEncounter, 0.05, 36 * time.Hour, 3 * time.Hour, 0, "Encounter"},
	{merge.CategoryProblem, 0.002, 300 * 24 * time.Hour, 30 * 24 * time.Hour, 1, "Condition"},
	{merge.CategoryImmunisation, 0.01, 21 * 24 * time.Hour, 2 * 24 * time.Hour, 1, "Immunization"},
	{merge.CategoryProcedure, 0.01, 7 * 24 * time.Hour, 24 * time.Hour, 0.5, "Procedure"},
	{merge.CategoryAllergy, 0, 0, 0, 1, "AllergyIntolerance"},
}

func clinConcepts() []clinConcept {
	var cs []clinConcept
	lab := func(id, loinc string, mean, sd float64, molar float64, units []clinUnit, names ...string) {
		cs = append(cs, clinConcept{id: id, cat: merge.CategoryResult, loinc: loinc, mean: mean, sd: sd, molar: molar, units: units, display: names})
	}
	gL := []clinUnit{{"g/L", 1, 0, 0}, {"g/dL", 0.1, 0, 1}}
	mmol := func(molar float64, dec, mgdec int) []clinUnit {
		return []clinUnit{{"mmol/L", 1, 0, dec}, {"mg/dL", molar / 10, 0, mgdec}}
	}
	lab("haemoglobin", "718-7", 135, 15, 0, gL, "Haemoglobin", "Hb", "HAEMOGLOBIN", "Hemoglobin [Mass/volume] in Blood")
	lab("glucose", "2345-7", 5.6, 1.2, 180.16, mmol(180.16, 1, 0), "Glucose", "Serum glucose", "GLUCOSE (SERUM)")
	lab("creatinine", "2160-0", 85, 20, 113.12, []clinUnit{{"umol/L", 1, 0, 0}, {"mg/dL", 113.12 / 10000, 0, 2}}, "Creatinine", "Serum creatinine", "CREAT")
	lab("sodium", "2951-2", 139, 3, 0, []clinUnit{{"mmol/L", 1, 0, 0}}, "Sodium", "Na", "Serum sodium")
	lab("potassium", "2823-3", 4.3, 0.5, 0, []clinUnit{{"mmol/L", 1, 0, 1}}, "Potassium", "K", "Serum potassium")
	lab("cholesterol", "2093-3", 5.0, 1.0, 386.65, mmol(386.65, 1, 0), "Cholesterol", "Total cholesterol", "Serum cholesterol")
	lab("hba1c", "4548-4", 6.2, 0.8, 0, []clinUnit{{"%", 1, 0, 1}}, "HbA1c", "Haemoglobin A1c", "Glycated haemoglobin")
	lab("urea", "", 5.5, 1.5, 60.06, mmol(60.06, 1, 0), "Urea", "Serum urea", "UREA")
	lab("albumin", "1751-7", 40, 4, 0, gL, "Albumin", "Serum albumin", "ALB")
	lab("calcium", "", 2.35, 0.12, 40.08, mmol(40.08, 2, 1), "Calcium", "Serum calcium", "Adjusted calcium")
	lab("crp", "1988-5", 8, 6, 0, []clinUnit{{"mg/L", 1, 0, 0}}, "C-reactive protein", "CRP", "C reactive protein")
	lab("wbc", "6690-2", 7, 2, 0, []clinUnit{{"10*9/L", 1, 0, 1}}, "White cell count", "WBC", "Total white cell count")
	lab("platelets", "777-3", 250, 60, 0, []clinUnit{{"10*9/L", 1, 0, 0}}, "Platelets", "Platelet count", "PLT")
	lab("alt", "1742-6", 25, 10, 0, []clinUnit{{"U/L", 1, 0, 0}}, "ALT", "Alanine aminotransferase", "Serum ALT")
	lab("tsh", "3016-3", 2.1, 0.9, 0, []clinUnit{{"mU/L", 1, 0, 2}}, "TSH", "Thyroid stimulating hormone", "Serum TSH")
	lab("ferritin", "2276-4", 90, 40, 0, []clinUnit{{"ug/L", 1, 0, 0}}, "Ferritin", "Serum ferritin", "FERR")
	lab("egfr", "33914-3", 80, 15, 0, []clinUnit{{"mL/min/{1.73_m2}", 1, 0, 0}}, "eGFR", "Estimated GFR", "GFR (estimated)")
	lab("bilirubin", "1975-2", 10, 4, 584.66, []clinUnit{{"umol/L", 1, 0, 0}, {"mg/dL", 584.66 / 10000, 0, 2}}, "Bilirubin", "Total bilirubin", "BILI")
	lab("magnesium", "", 0.85, 0.08, 24.305, mmol(24.305, 2, 1), "Magnesium", "Serum magnesium", "MG")
	lab("phosphate", "", 1.1, 0.2, 30.97, mmol(30.97, 2, 1), "Phosphate", "Serum phosphate", "PHOS")
	lab("vitd", "", 60, 20, 0, []clinUnit{{"nmol/L", 1, 0, 0}}, "Vitamin D", "25-OH vitamin D", "Vit D")
	lab("psa", "2857-1", 1.5, 0.8, 0, []clinUnit{{"ug/L", 1, 0, 2}, {"ng/mL", 1, 0, 2}}, "PSA", "Prostate specific antigen", "Serum PSA")
	lab("inr", "6301-6", 2.5, 0.5, 0, []clinUnit{{"1", 1, 0, 1}}, "INR", "International normalised ratio", "Prothrombin INR")
	lab("triglycerides", "2571-8", 1.5, 0.6, 885.7, mmol(885.7, 1, 0), "Triglycerides", "Serum triglycerides", "TRIG")

	obs := func(id, loinc string, mean, sd float64, units []clinUnit, names ...string) {
		cs = append(cs, clinConcept{id: id, cat: merge.CategoryObservation, loinc: loinc, mean: mean, sd: sd, units: units, display: names})
	}
	obs("heart-rate", "8867-4", 78, 12, []clinUnit{{"/min", 1, 0, 0}}, "Heart rate", "Pulse", "HR")
	obs("systolic", "8480-6", 128, 15, []clinUnit{{"mm[Hg]", 1, 0, 0}, {"kPa", 1 / 7.50061683, 0, 1}}, "Systolic blood pressure", "Systolic BP", "BP systolic")
	obs("diastolic", "8462-4", 78, 10, []clinUnit{{"mm[Hg]", 1, 0, 0}}, "Diastolic blood pressure", "Diastolic BP", "BP diastolic")
	obs("weight", "29463-7", 82, 10, []clinUnit{{"kg", 1, 0, 1}, {"[lb_av]", 1 / 0.45359237, 0, 1}}, "Body weight", "Weight", "WEIGHT")
	obs("temperature", "8310-5", 36.9, 0.5, []clinUnit{{"Cel", 1, 0, 1}, {"[degF]", 1.8, 32, 1}}, "Body temperature", "Temperature", "Temp")
	obs("resp-rate", "9279-1", 16, 3, []clinUnit{{"/min", 1, 0, 0}}, "Respiratory rate", "Resp rate", "RR")
	obs("spo2", "59408-5", 96, 2, []clinUnit{{"%", 1, 0, 0}}, "Oxygen saturation", "SpO2", "O2 sats")
	obs("height", "8302-2", 175, 5, []clinUnit{{"cm", 1, 0, 0}, {"m", 0.01, 0, 2}}, "Body height", "Height", "HEIGHT")
	obs("bmi", "39156-5", 27, 4, []clinUnit{{"kg/m2", 1, 0, 1}}, "Body mass index", "BMI", "BMI (calculated)")
	obs("pain", "", 3, 2, []clinUnit{{"{score}", 1, 0, 0}}, "Pain score", "Pain", "Pain scale")

	drugs := []string{"Metformin", "Ramipril", "Atorvastatin", "Amlodipine", "Levothyroxine", "Omeprazole",
		"Bisoprolol", "Furosemide", "Apixaban", "Sertraline", "Lansoprazole", "Simvastatin", "Paracetamol",
		"Gabapentin", "Citalopram", "Doxazosin", "Allopurinol", "Warfarin", "Salbutamol", "Prednisolone",
		"Amitriptyline", "Tamsulosin", "Losartan", "Mirtazapine", "Naproxen", "Co-codamol", "Finasteride",
		"Clopidogrel", "Indapamide", "Bendroflumethiazide", "Carbimazole", "Digoxin"}
	doses := []float64{500, 5, 20, 5, 0.1, 20, 2.5, 40, 5, 50, 30, 40, 1000, 300, 20, 4, 100, 3, 0.1, 5,
		10, 0.4, 50, 15, 250, 30, 5, 75, 2.5, 2.5, 20, 0.125}
	for i, d := range drugs {
		cs = append(cs, clinConcept{id: "drug-" + strings.ToLower(d), cat: merge.CategoryMedication,
			display: []string{d + " tablets", strings.ToUpper(d), d + " " + fmt.Sprint(doses[i]) + "mg tablets"},
			mean:    doses[i], units: []clinUnit{{"mg", 1, 0, 3}, {"g", 0.001, 0, 6}},
			text: []string{"One tablet daily", "1 tab od", "Take one tablet each day"}})
	}
	for _, p := range []string{"Hypertension", "Type 2 diabetes", "Asthma", "Atrial fibrillation", "Osteoarthritis",
		"Hypothyroidism", "Depression", "Chronic kidney disease", "Gout", "COPD", "Heart failure", "Anaemia",
		"Migraine", "Eczema", "Obesity", "Back pain", "Glaucoma", "Hyperlipidaemia", "Anxiety", "Insomnia"} {
		cs = append(cs, clinConcept{id: "problem-" + p, cat: merge.CategoryProblem, display: []string{p, strings.ToUpper(p), p + " (disorder)"}})
	}
	for _, p := range []string{"Influenza vaccine", "Pneumococcal vaccine", "COVID-19 vaccine", "Tetanus booster",
		"Shingles vaccine", "Hepatitis B vaccine"} {
		cs = append(cs, clinConcept{id: "imm-" + p, cat: merge.CategoryImmunisation, display: []string{p, strings.ToLower(p), p + " given"}})
	}
	for _, p := range []string{"ECG", "Chest X-ray", "Echocardiogram", "Colonoscopy", "Cataract extraction",
		"Knee injection", "Skin lesion excision", "Spirometry", "CT abdomen", "MRI spine", "Endoscopy", "Ultrasound abdomen"} {
		cs = append(cs, clinConcept{id: "proc-" + p, cat: merge.CategoryProcedure, display: []string{p, strings.ToUpper(p), p + " (procedure)"}})
	}
	for _, p := range []string{"GP consultation", "Outpatient attendance", "Emergency attendance", "Telephone consultation"} {
		cs = append(cs, clinConcept{id: "enc-" + p, cat: merge.CategoryEncounter, display: []string{p, strings.ToLower(p), p + " (encounter)"}})
	}
	for _, p := range []string{"Penicillin", "Peanut", "Latex", "Aspirin", "Codeine", "Sulfonamide"} {
		cs = append(cs, clinConcept{id: "allergy-" + p, cat: merge.CategoryAllergy, display: []string{p + " allergy", "Allergy to " + strings.ToLower(p), strings.ToUpper(p) + " ALLERGY"},
			text: []string{"Rash", "Anaphylaxis", "Urticaria"}})
	}
	cs = append(cs, clinConcept{id: "note", cat: merge.CategoryNote, display: []string{"Consultation note"}},
		clinConcept{id: "document", cat: merge.CategoryDocument, display: []string{"Discharge summary"}})
	return cs
}

// codeFor returns concept c's code in the coding style of a source. Sources
// code differently: 0 uses LOINC/dm+d/SNOMED, 1 SNOMED, 2 Read, others a
// local system of their own. Only LOINC codes are real.
func codeFor(ci int, c *clinConcept, style int, srcID string) merge.Code {
	switch style {
	case 0:
		if c.loinc != "" {
			return merge.Code{System: sysLOINC, Code: c.loinc}
		}
		if c.cat == merge.CategoryMedication {
			return merge.Code{System: sysDMD, Code: fmt.Sprintf("9%07d", 1000+ci)}
		}
		fallthrough
	case 1:
		return merge.Code{System: sysSNOMED, Code: fmt.Sprintf("8%07d", 2000+ci)}
	case 2:
		return merge.Code{System: sysRead, Code: fmt.Sprintf("X%03d.", ci)}
	}
	return merge.Code{System: sysLocal + "/" + srcID, Code: fmt.Sprintf("L-%d", 7000+ci)}
}

// clinEntry is an entry with its fact id, before splitting by source.
type clinEntry struct {
	e    merge.Entry
	fact int32
	src  int
}

// GenerateClinical generates one patient's record held by several sources,
// with a known share of facts copied across sources in realistic variation:
// times shifted within tolerance or recorded to the day, the other source's
// code system, other units, other wording and status, and a share of copies
// that truly disagree. Independent facts of one concept are kept at least a
// category's minimum gap apart (a result is not repeated within days), so
// the truth is decidable; the same source repeating a measurement soon after,
// with another value, does occur. It is deterministic for a seed.
func GenerateClinical(o ClinicalOptions) (*ClinicalSet, error) {
	if o.Sources == 0 {
		o.Sources = 8
	}
	if o.Entries == 0 {
		o.Entries = 10000
	}
	if o.DupRate == 0 {
		o.DupRate = 0.2
	}
	if o.ConflictRate == 0 {
		o.ConflictRate = 0.02
	}
	if o.ConflictRate < 0 {
		o.ConflictRate = 0
	}
	if o.Years == 0 {
		o.Years = 20
	}
	if o.Sources < 2 || o.Entries < 0 || o.DupRate < 0 || o.DupRate >= 1 || o.ConflictRate > 1 || o.Years < 0 {
		return nil, fmt.Errorf("%w: clinical options", ErrBadOptions)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x636c696e))
	concepts := clinConcepts()
	srcIDs := make([]string, o.Sources)
	styles := make([]int, o.Sources)
	for s := range srcIDs {
		srcIDs[s] = fmt.Sprintf("src-%d", s)
		styles[s] = s % 4
	}
	set := &ClinicalSet{ConflictOf: map[int32]int32{}}
	set.Rules = clinRules(concepts, srcIDs, styles)

	// Each duplicated fact gets one copy, or two in 15% of cases:
	// copies/entries = q*1.15 / (1 + q*1.15) = DupRate.
	q := o.DupRate / (1 - o.DupRate) / 1.15
	facts := int(float64(o.Entries) / (1 + q*1.15))
	start := time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)
	span := time.Duration(o.Years) * 365 * 24 * time.Hour
	retrieved := start.Add(span + 24*time.Hour)

	var all []clinEntry
	var nextFact int32
	nextID := make([]int, o.Sources)
	newTag := func(s int, cc *clinCategory, asserted time.Time) provenance.Lineage {
		nextID[s]++
		return provenance.Of(provenance.Tag{Source: srcIDs[s], ResourceType: cc.resource,
			ResourceID: fmt.Sprintf("%s-%07d", srcIDs[s], nextID[s]), Version: "1",
			Asserted: asserted, Retrieved: retrieved})
	}
	for _, cc := range clinCategories {
		var members []int
		for i := range concepts {
			if concepts[i].cat == cc.cat {
				members = append(members, i)
			}
		}
		n := int(math.Round(cc.weight * float64(facts)))
		if cc.cat == merge.CategoryAllergy {
			n = len(members) / 2
		}
		if n == 0 || len(members) == 0 {
			continue
		}
		for k := range n {
			ci := members[k%len(members)]
			c := &concepts[ci]
			per := (n + len(members) - 1) / len(members)
			slot := k / len(members)
			// Spread a concept's facts evenly with jitter that keeps them
			// at least minGap apart; uncoded notes and documents are free.
			gap := span / time.Duration(per)
			if cc.minGap > 0 && gap < cc.minGap+2*cc.shift {
				return nil, fmt.Errorf("%w: too many %s facts for %d years", ErrBadOptions, cc.cat, o.Years)
			}
			jitter := gap - cc.minGap - 2*cc.shift
			if cc.minGap == 0 {
				jitter = gap
			}
			t := start.Add(time.Duration(slot)*gap + cc.shift + time.Duration(rng.Int64N(int64(jitter)+1)))
			t = t.Truncate(time.Minute)
			home := rng.IntN(o.Sources)
			fact := nextFact
			nextFact++
			base := clinFact(rng, c, cc, fact)
			e := base
			e.Time, e.Precision = t, merge.PrecisionMinute
			if cc.cat == merge.CategoryAllergy || cc.cat == merge.CategoryProblem || cc.cat == merge.CategoryMedication || cc.cat == merge.CategoryImmunisation {
				e.Time, e.Precision = t.Truncate(24*time.Hour), merge.PrecisionDay
			}
			clinStyle(&e, rng, c, ci, 0, styles[home], srcIDs[home])
			e.Lineage = newTag(home, &cc, t.Add(time.Hour))
			all = append(all, clinEntry{e, fact, home})

			// The same source repeats a measurement soon after, differently.
			if (cc.cat == merge.CategoryObservation || cc.cat == merge.CategoryResult) && rng.Float64() < 0.01 {
				r := clinFact(rng, c, cc, nextFact)
				if r.Value != nil && math.Abs(r.Value.Value-base.Value.Value) > 0.05*math.Abs(base.Value.Value) {
					r.Time, r.Precision = e.Time.Add(time.Duration(1+rng.IntN(30))*time.Minute), merge.PrecisionMinute
					clinStyle(&r, rng, c, ci, 0, styles[home], srcIDs[home])
					r.Lineage = newTag(home, &cc, r.Time.Add(time.Hour))
					all = append(all, clinEntry{r, nextFact, home})
					nextFact++
				}
			}
			// A source re-sends a record unchanged under a new id.
			if rng.Float64() < 0.002 {
				r := e
				r.Lineage = newTag(home, &cc, t.Add(2*time.Hour))
				all = append(all, clinEntry{r, fact, home})
			}

			ncopies := 0
			if cc.cat == merge.CategoryAllergy {
				ncopies = 1 + rng.IntN(o.Sources-1)
			} else if rng.Float64() < q {
				ncopies = 1
				if rng.Float64() < 0.15 {
					ncopies = 2
				}
			}
			used := []int{home}
			for range ncopies {
				s := rng.IntN(o.Sources)
				for slices.Contains(used, s) {
					s = (s + 1) % o.Sources
				}
				used = append(used, s)
				cp := base
				cf := fact
				if cc.cat != merge.CategoryNote && cc.cat != merge.CategoryDocument && rng.Float64() < o.ConflictRate {
					if clinConflict(rng, &cp) {
						cf = nextFact
						nextFact++
						set.ConflictOf[cf] = fact
					}
				}
				clinCopyTime(&cp, rng, &cc, t)
				clinStyle(&cp, rng, c, ci, 1+rng.IntN(4), styles[s], srcIDs[s])
				cp.Lineage = newTag(s, &cc, t.Add(24*time.Hour))
				all = append(all, clinEntry{cp, cf, s})
				set.Copies++
			}
		}
	}

	bySrc := make([][]clinEntry, o.Sources)
	for _, ce := range all {
		bySrc[ce.src] = append(bySrc[ce.src], ce)
	}
	set.Sources = make([][]merge.Entry, o.Sources)
	set.Facts = make([][]int32, o.Sources)
	for s, ces := range bySrc {
		slices.SortStableFunc(ces, func(a, b clinEntry) int { return merge.Compare(a.e, b.e) })
		set.Sources[s] = make([]merge.Entry, len(ces))
		set.Facts[s] = make([]int32, len(ces))
		for i, ce := range ces {
			set.Sources[s][i], set.Facts[s][i] = ce.e, ce.fact
		}
	}
	return set, nil
}

// clinFact draws the canonical content of a fact of concept c.
func clinFact(rng *rand.Rand, c *clinConcept, cc clinCategory, fact int32) merge.Entry {
	e := merge.Entry{Category: c.cat, Display: c.display[0], Status: "final"}
	switch c.cat {
	case merge.CategoryResult, merge.CategoryObservation:
		v := max(c.mean+rng.NormFloat64()*c.sd, c.mean/10)
		e.Value = &merge.Quantity{Value: round(v, c.units[0].dec), Unit: c.units[0].code}
	case merge.CategoryMedication:
		e.Dose = &merge.Quantity{Value: c.mean, Unit: "mg"}
		e.ValueText = c.text[0]
		e.Status = "active"
	case merge.CategoryAllergy:
		e.ValueText = c.text[rng.IntN(len(c.text))]
		e.Status = "active"
	case merge.CategoryProblem:
		e.Status = "active"
	case merge.CategoryNote, merge.CategoryDocument:
		e.Text = fmt.Sprintf("Reviewed today (ref %d). %s", fact, clinPhrases[rng.IntN(len(clinPhrases))])
	}
	return e
}

var clinPhrases = []string{"Feeling better, continue current plan.", "Reports mild breathlessness on exertion.",
	"Bloods requested, review in two weeks.", "Medication reviewed, no changes.", "Follow up in clinic as planned."}

// clinConflict makes a copy disagree with its fact; false if it cannot.
func clinConflict(rng *rand.Rand, e *merge.Entry) bool {
	switch {
	case e.Value != nil:
		// A disagreement visible at the precision the value is reported
		// with: at least 8% and at least three units in the last place.
		v := *e.Value
		dec := decimals(v.Value)
		sign := float64(1 - 2*rng.IntN(2))
		nv := round(v.Value*(1+sign*(0.08+0.2*rng.Float64())), dec)
		if ulp := math.Pow10(-dec); math.Abs(nv-v.Value) < 3*ulp {
			nv = round(v.Value+3*ulp, dec)
		}
		v.Value = nv
		e.Value = &v
		return true
	case e.Dose != nil:
		d := *e.Dose
		d.Value *= []float64{0.5, 2}[rng.IntN(2)]
		e.Dose = &d
		return true
	case e.ValueText != "" && e.Category == merge.CategoryAllergy:
		e.ValueText = "Reaction: " + []string{"Angioedema", "Wheeze"}[rng.IntN(2)]
		return true
	}
	return false
}

// clinCopyTime sets a copy's time: shifted within the category's tolerance,
// sometimes recorded to the day only.
func clinCopyTime(e *merge.Entry, rng *rand.Rand, cc *clinCategory, t time.Time) {
	if cc.cat == merge.CategoryAllergy {
		// Allergies are recorded when each source learns of them.
		e.Time = t.AddDate(0, 0, rng.IntN(3000)).Truncate(24 * time.Hour)
		e.Precision = merge.PrecisionDay
		return
	}
	d := time.Duration(0)
	if cc.shift > 0 {
		d = time.Duration(rng.Int64N(int64(2*cc.shift))) - cc.shift
	}
	e.Time, e.Precision = t.Add(d).Truncate(time.Minute), merge.PrecisionMinute
	if rng.Float64() < cc.dayShare {
		e.Time, e.Precision = t.Truncate(24*time.Hour), merge.PrecisionDay
		if cc.cat == merge.CategoryResult && rng.IntN(2) == 0 {
			// Filed by the receiving practice the next day.
			e.Time = e.Time.AddDate(0, 0, 1)
		}
		if cc.cat == merge.CategoryProblem && rng.IntN(3) == 0 {
			e.Time, e.Precision = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC), merge.PrecisionMonth
		}
	}
}

// clinStyle applies how a source writes a fact: its code system, a wording,
// a unit, a status spelling. variant 0 is the canonical form.
func clinStyle(e *merge.Entry, rng *rand.Rand, c *clinConcept, ci, variant, style int, srcID string) {
	e.Codes = []merge.Code{codeFor(ci, c, style, srcID)}
	if variant > 0 {
		e.Display = c.display[rng.IntN(len(c.display))]
		if e.Category == merge.CategoryNote || e.Category == merge.CategoryDocument {
			e.Display = strings.ToUpper(e.Display)
			e.Codes = nil
		}
		if rng.IntN(3) == 0 {
			e.Status = strings.ToUpper(e.Status[:1]) + e.Status[1:]
		}
		if e.Category == merge.CategoryMedication {
			e.ValueText = c.text[rng.IntN(len(c.text))]
		}
	}
	if e.Category == merge.CategoryNote || e.Category == merge.CategoryDocument {
		e.Codes = nil
	}
	if e.Value != nil && len(c.units) > 1 && variant > 0 && rng.IntN(2) == 0 {
		u := c.units[1+rng.IntN(len(c.units)-1)]
		b := (e.Value.Value - c.units[0].offset) / c.units[0].scale
		e.Value = &merge.Quantity{Value: round(b*u.scale+u.offset, u.dec), Unit: u.code, Comparator: e.Value.Comparator}
	}
	if e.Dose != nil && variant > 0 && rng.IntN(4) == 0 {
		e.Dose = &merge.Quantity{Value: e.Dose.Value / 1000, Unit: "g"}
	}
}

func round(v float64, dec int) float64 {
	p := math.Pow10(dec)
	return math.Round(v*p) / p
}

func decimals(v float64) int {
	for d := range 6 {
		if round(v, d) == v {
			return d
		}
	}
	return 6
}

// clinRules returns the code maps and molar masses of the generated set:
// every coding of a concept, in every source's style, is one concept.
func clinRules(cs []clinConcept, srcIDs []string, styles []int) *merge.Rules {
	rs := &merge.Rules{}
	for ci := range cs {
		c := &cs[ci]
		if c.cat == merge.CategoryNote || c.cat == merge.CategoryDocument {
			continue
		}
		con := merge.Concept{ID: c.id}
		for s := range srcIDs {
			cd := codeFor(ci, c, styles[s], srcIDs[s])
			if !slices.Contains(con.Codes, cd) {
				con.Codes = append(con.Codes, cd)
			}
		}
		rs.Concepts = append(rs.Concepts, con)
		if c.molar > 0 {
			rs.Analytes = append(rs.Analytes, merge.Analyte{Concept: c.id, MolarMass: c.molar})
		}
	}
	return rs
}
