package match

import (
	"fmt"
	"math/rand/v2"
)

// syntheticRecords makes n people with one to three records each, some
// with a typo, a missing field or a nickname: a small fixture for tests
// that need linkable data without the shared data sets. Record ids are
// "p<person>-<k>" so truth is in the id.
func syntheticRecords(n int, seed uint64) []Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	given := []string{"Robert", "William", "Mary", "Elizabeth", "James", "Sarah", "Thomas", "Emily", "Oliver", "Amelia", "Jack", "Grace"}
	family := []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green"}
	streets := []string{"High Street", "Station Road", "Church Lane", "Park Road", "Victoria Street", "Green Lane"}
	typo := func(s string) string {
		if len(s) < 3 {
			return s
		}
		b := []byte(s)
		i := 1 + rng.IntN(len(b)-2)
		b[i], b[i+1] = b[i+1], b[i]
		return string(b)
	}
	var recs []Record
	for p := range n {
		g := given[rng.IntN(len(given))]
		f := family[rng.IntN(len(family))] + fmt.Sprint([]string{"", "son", "ley", "ton", "field"}[rng.IntN(5)])
		dob := fmt.Sprintf("%04d-%02d-%02d", 1930+rng.IntN(80), 1+rng.IntN(12), 1+rng.IntN(28))
		addr := fmt.Sprintf("%d %s", 1+rng.IntN(200), streets[rng.IntN(len(streets))])
		pc := fmt.Sprintf("LS%d %d%c%c", 1+rng.IntN(20), rng.IntN(10), 'A'+rng.IntN(26), 'A'+rng.IntN(26))
		phone := fmt.Sprintf("07%09d", rng.IntN(1_000_000_000))
		copies := 1 + rng.IntN(3)
		for k := range copies {
			r := Record{Source: []string{"gp", "hospital", "community"}[k], ID: fmt.Sprintf("p%d-%d", p, k),
				Given: []string{g}, Family: f, BirthDate: dob, Address: []string{addr}, Postcode: pc, Phone: phone}
			if k > 0 {
				switch rng.IntN(5) {
				case 0:
					r.Given = []string{typo(g)}
				case 1:
					r.Family = typo(f)
				case 2:
					r.Phone = ""
				case 3:
					if g == "Robert" {
						r.Given = []string{"Bob"}
					}
				}
			}
			recs = append(recs, r)
		}
	}
	return recs
}
