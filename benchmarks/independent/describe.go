package independent

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// Diagnosis explains a run's errors from the generator's side.
type Diagnosis struct {
	WorstFalse []string // the false-merge pairs with the highest link weight, described
	FalseBy    []Count  // false-merge pairs by how the two people are related and how their postcodes compare
	Missed     []Count  // missed-pair patterns, commonest first
	MissRate   []Rate   // per variation: share of true pairs carrying it that were missed
}

// Count is how often a pattern occurs.
type Count struct {
	Pattern string
	N       int
}

// Rate is the share of true pairs with a variation that were missed.
type Rate struct {
	Note         string
	Missed, Of   int
	MissFraction float64
}

// Diagnose describes the n worst false merges (directly linked pairs by
// weight, then pairs merged only through others) and the commonest
// patterns among missed pairs.
func (c *Cohort) Diagnose(truth, clusters map[Key]string, linked map[Pair]float64, n int) Diagnosis {
	idx := make(map[Key]int, len(c.Records))
	for i := range c.Records {
		idx[Key{c.Records[i].Source, c.Records[i].ID()}] = i
	}
	var d Diagnosis
	fm := FalseMergePairs(truth, clusters, 200_000)
	slices.SortStableFunc(fm, func(a, b Pair) int {
		wa, oka := linked[a]
		wb, okb := linked[b]
		if oka != okb {
			if oka {
				return -1
			}
			return 1
		}
		return cmp.Compare(wb, wa)
	})
	by := map[string]int{}
	for _, p := range fm {
		a, b := &c.Records[idx[p.A]], &c.Records[idx[p.B]]
		pc := "postcodes equal"
		switch x, y := norm(a.Values[FPostcode]), norm(b.Values[FPostcode]); {
		case x == "" || y == "":
			pc = "a postcode missing"
		case x != y:
			pc = "postcodes differ"
		}
		how := "through other records"
		if _, ok := linked[p]; ok {
			how = "linked directly"
		}
		by[c.relation(a, b)+", "+pc+", "+how]++
	}
	for k, v := range by {
		d.FalseBy = append(d.FalseBy, Count{k, v})
	}
	slices.SortFunc(d.FalseBy, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Pattern, b.Pattern)) })
	for _, p := range fm[:min(n, len(fm))] {
		w, ok := linked[p]
		how := "merged through other records"
		if ok {
			how = fmt.Sprintf("linked directly, weight %.1f", w)
		}
		d.WorstFalse = append(d.WorstFalse, how+": "+c.describe(&c.Records[idx[p.A]], &c.Records[idx[p.B]]))
	}

	patterns := map[string]int{}
	missedBy := map[string]int{}
	for _, p := range MissedPairs(truth, clusters, 0) {
		a, b := &c.Records[idx[p.A]], &c.Records[idx[p.B]]
		sig := signature(a, b)
		patterns[strings.Join(sig, " ")]++
		for _, s := range sig {
			missedBy[s]++
		}
	}
	for k, v := range patterns {
		d.Missed = append(d.Missed, Count{k, v})
	}
	slices.SortFunc(d.Missed, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Pattern, b.Pattern)) })

	// Miss rate per variation, over all true pairs.
	of := map[string]int{}
	for _, ks := range group(truth) {
		for i := range ks {
			for j := i + 1; j < len(ks); j++ {
				for _, s := range signature(&c.Records[idx[ks[i]]], &c.Records[idx[ks[j]]]) {
					of[s]++
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(of)) {
		d.MissRate = append(d.MissRate, Rate{k, missedBy[k], of[k], float64(missedBy[k]) / float64(of[k])})
	}
	slices.SortStableFunc(d.MissRate, func(a, b Rate) int { return cmp.Compare(b.Missed, a.Missed) })
	return d
}

// signature is the variations a true pair carries: the notes of either
// record (except the NHS number's) and the NHS numbers both, one or neither
// record holds.
func signature(a, b *Record) []string {
	set := map[string]bool{}
	for _, r := range []*Record{a, b} {
		for _, n := range r.Notes {
			if n != "no-nhs" && n != "nhs-typo" {
				set[n] = true
			}
		}
	}
	set["nhs:"+nhsState(a, b)] = true
	if a.Source == b.Source {
		set["same-source"] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func nhsState(a, b *Record) string {
	ok := func(r *Record) bool { return r.Values[FNHS] != "" && !r.Has("nhs-typo") }
	switch {
	case ok(a) && ok(b):
		return "both"
	case ok(a) || ok(b):
		return "one"
	}
	return "none"
}

func norm(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

func phoneDigits(s string) string {
	d := norm(s)
	if strings.HasPrefix(d, "44") {
		d = "0" + d[2:]
	}
	return d
}

// describe says how two records of different people compare, field by field.
func (c *Cohort) describe(a, b *Record) string {
	rel := c.relation(a, b)
	var parts []string
	cmpField := func(name, x, y string) {
		switch {
		case x == "" || y == "":
			parts = append(parts, name+" missing")
		case x == y:
			parts = append(parts, name+" =")
		default:
			parts = append(parts, fmt.Sprintf("%s %q/%q", name, x, y))
		}
	}
	cmpField("given", norm(a.Values[FGiven]), norm(b.Values[FGiven]))
	cmpField("family", norm(a.Values[FFamily]), norm(b.Values[FFamily]))
	da, db := "", ""
	if a.dob != [3]int{} {
		da = fmt.Sprintf("%04d-%02d-%02d", a.dob[0], a.dob[1], a.dob[2])
	}
	if b.dob != [3]int{} {
		db = fmt.Sprintf("%04d-%02d-%02d", b.dob[0], b.dob[1], b.dob[2])
	}
	cmpField("dob", da, db)
	cmpField("sex", norm(a.Values[FSex])[:min(1, len(a.Values[FSex]))], norm(b.Values[FSex])[:min(1, len(b.Values[FSex]))])
	cmpField("postcode", norm(a.Values[FPostcode]), norm(b.Values[FPostcode]))
	cmpField("address", norm(strings.SplitN(a.Values[FAddress], ",", 2)[0]), norm(strings.SplitN(b.Values[FAddress], ",", 2)[0]))
	cmpField("phone", phoneDigits(a.Values[FPhone]), phoneDigits(b.Values[FPhone]))
	cmpField("email", strings.ToLower(a.Values[FEmail]), strings.ToLower(b.Values[FEmail]))
	cmpField("nhs", norm(a.Values[FNHS]), norm(b.Values[FNHS]))
	return fmt.Sprintf("%s, %s/%s vs %s/%s: %s", rel, a.Source, a.ID(), b.Source, b.ID(), strings.Join(parts, ", "))
}

// relation is how the people of two records are related: twins, same
// household (parent, child, sibling, partner) or unrelated.
func (c *Cohort) relation(a, b *Record) string {
	pa, pb := &c.People[a.Person], &c.People[b.Person]
	switch {
	case pa.Twin == pb.ID:
		return "twins"
	case pa.Household == pb.Household:
		return "same household"
	}
	return "unrelated"
}
