package independent

import (
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/carelens/carelens/nhsnumber"
)

func smallParams() Params {
	return Params{People: 2000, Sources: 4, NHSCoverage: 0.5, ErrorRate: 0.12, GivenNames: 25, FamilyNames: 60, Zipf: 1.1, Seed: 5}
}

func TestGenerateDeterministic(t *testing.T) {
	p := smallParams()
	a, b := Generate(p), Generate(p)
	if !reflect.DeepEqual(a.Records, b.Records) || !reflect.DeepEqual(a.People, b.People) {
		t.Fatal("the same parameters gave two cohorts")
	}
	p.Seed++
	if c := Generate(p); reflect.DeepEqual(a.Records, c.Records) {
		t.Fatal("another seed gave the same cohort")
	}
}

func TestGenerateCohort(t *testing.T) {
	for _, cov := range []float64{0, 0.5, 0.91, 0.99} {
		p := smallParams()
		p.NHSCoverage = cov
		c := Generate(p)
		if len(c.People) != p.People {
			t.Fatalf("%d people, want %d", len(c.People), p.People)
		}
		held := make([]int, len(c.People))
		withNHS := 0
		for i := range c.Records {
			r := &c.Records[i]
			held[r.Person]++
			v := r.Values[FNHS]
			if v == "" {
				continue
			}
			withNHS++
			want := !r.Has("nhs-typo")
			if got := nhsnumber.Valid(v); got != want {
				t.Errorf("record %s: NHS number %q valid %v, want %v", r.ID(), v, got, want)
			}
			if want && strings.ReplaceAll(v, " ", "") != c.People[r.Person].NHS {
				t.Errorf("record %s: NHS number %q is not its person's %q", r.ID(), v, c.People[r.Person].NHS)
			}
		}
		if got := float64(withNHS) / float64(len(c.Records)); got < cov-0.03 || got > cov+0.03 {
			t.Errorf("coverage %.2f: %.3f of records carry an NHS number", cov, got)
		}
		for i, n := range held {
			if n == 0 {
				t.Fatalf("person %d is held by no source", i)
			}
		}
	}
}

func TestGenerateTwinsNamesakesAndVariations(t *testing.T) {
	c := Generate(smallParams())
	twins := 0
	for _, p := range c.People {
		if p.Twin < 0 {
			continue
		}
		twins++
		q := c.People[p.Twin]
		if q.Twin != p.ID || q.Household != p.Household || q.Family != p.Family ||
			[3]int{q.Year, q.Month, q.Day} != [3]int{p.Year, p.Month, p.Day} || q.Given == p.Given {
			t.Errorf("twins %d and %d: %+v / %+v", p.ID, q.ID, p, q)
		}
	}
	if twins < 10 {
		t.Errorf("%d twins in %d people", twins, len(c.People))
	}
	// Unrelated people sharing a full name: the steep vocabulary's point.
	type name struct{ g, f string }
	seen := map[name]int{}
	shared := 0
	for _, p := range c.People {
		if h, ok := seen[name{p.Given, p.Family}]; ok && h != p.Household {
			shared++
		}
		seen[name{p.Given, p.Family}] = p.Household
	}
	if shared < len(c.People)/10 {
		t.Errorf("only %d people share a full name with someone in another household", shared)
	}
	emails := map[string]bool{}
	for _, p := range c.People {
		if p.Email != "" && emails[p.Email] {
			t.Errorf("e-mail %s given twice", p.Email)
		}
		emails[p.Email] = true
	}
	notes := map[string]int{}
	for i := range c.Records {
		for _, n := range c.Records[i].Notes {
			notes[n]++
		}
	}
	for _, n := range []string{"moved", "maiden", "nickname", "typo-given", "typo-family", "dob-swap", "dob-slip", "no-nhs", "nhs-typo", "dup"} {
		if notes[n] == 0 {
			t.Errorf("no record has the variation %q", n)
		}
	}
}

func TestGenerateDateFormats(t *testing.T) {
	c := Generate(smallParams())
	want := map[string]*regexp.Regexp{
		"gp":        regexp.MustCompile(`^\d\d/\d\d/\d{4}$`),
		"hospital":  regexp.MustCompile(`^\d{4}-\d\d-\d\d$`),
		"community": regexp.MustCompile(`^\d{8}$`),
		"ambulance": regexp.MustCompile(`^\d{1,2}/\d{1,2}/\d{4}$`),
	}
	for i := range c.Records {
		r := &c.Records[i]
		if d := r.Values[FBirthDate]; d != "" && !want[r.Source].MatchString(d) {
			t.Fatalf("%s writes the date %q", r.Source, d)
		}
		if r.dob[0] > 2025 {
			t.Fatalf("record %s: birth year %d", r.ID(), r.dob[0])
		}
	}
}

func TestTypo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []string{"Elizabeth", "Hughes", "12 Church Road"} {
		same := 0
		for range 1000 {
			got := typo(r, s)
			if got == s {
				same++ // a transposition of two equal characters
			}
			if d := len([]rune(got)) - len([]rune(s)); d < -1 || d > 1 {
				t.Fatalf("typo(%q) = %q: length changed by %d", s, got, d)
			}
			if got[0] != s[0] {
				t.Fatalf("typo(%q) = %q: first character changed", s, got)
			}
		}
		if same > 50 {
			t.Errorf("typo(%q) left it unchanged %d times in 1000", s, same)
		}
	}
}
