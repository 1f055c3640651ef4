package benchmarks

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
)

//go:embed data/*.csv
var dataFS embed.FS

// Name groups: a loose naming tradition used to correlate given names with
// surnames (a Patel is more likely than a Smith to be called Priya).
const (
	groupGen = iota // general UK
	groupSA         // South Asian
	numGroups
)

// Birth decades for given-name popularity: 1920s .. 2020s.
const (
	firstDecade = 1920
	numDecades  = 11
)

// table is a weighted list of names sampled by binary search over the
// cumulative weights.
type table struct {
	names []string
	group []uint8 // per name, for surnames
	cum   []float64
}

func (t *table) add(name string, group uint8, w float64) {
	total := 0.0
	if n := len(t.cum); n > 0 {
		total = t.cum[n-1]
	}
	t.names = append(t.names, name)
	t.group = append(t.group, group)
	t.cum = append(t.cum, total+w)
}

// pick returns the index of a name drawn with probability proportional to
// its weight.
func (t *table) pick(r *rand.Rand) int {
	u := r.Float64() * t.cum[len(t.cum)-1]
	i, _ := slices.BinarySearch(t.cum, u)
	return min(i, len(t.cum)-1)
}

// tables holds every name, street and town list the generator draws from.
// It is built once from the embedded files and then only read.
type tables struct {
	surnames *table
	// head holds the surnames of surnames.csv; the rest of surnames.names
	// is the synthetic tail.
	head map[string]bool
	// given[sex][group][decade]; sex 0 female, 1 male.
	given [2][numGroups][numDecades]*table
	// givenTail[sex]: synthetic rare given names.
	givenTail [2]*table
	nicknames map[string][]string
	streets   *table
	kinds     *table
	towns     []town
	townTable *table
}

// town is one postcode area with its dialling code and numeric districts.
type town struct {
	name, area, dialling string
	firstDistrict        int
	lastDistrict         int
}

var (
	tablesOnce sync.Once
	tablesVal  *tables
	tablesErr  error
)

// loadTables parses the embedded data files once.
func loadTables() (*tables, error) {
	tablesOnce.Do(func() { tablesVal, tablesErr = buildTables() })
	return tablesVal, tablesErr
}

// readData returns the non-comment, non-empty lines of an embedded file
// split on commas, with their line numbers.
func readData(name string, minFields int, each func(line int, f []string) error) error {
	b, err := dataFS.ReadFile("data/" + name)
	if err != nil {
		return fmt.Errorf("benchmarks: read embedded %s: %w", name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		f := strings.Split(s, ",")
		if len(f) < minFields {
			return fmt.Errorf("benchmarks: data/%s:%d: want at least %d fields, got %d: %w", name, line, minFields, len(f), ErrMalformed)
		}
		if err := each(line, f); err != nil {
			return fmt.Errorf("benchmarks: data/%s:%d: %w", name, line, err)
		}
	}
	return sc.Err()
}

func parseGroup(s string) (uint8, error) {
	switch s {
	case "gen":
		return groupGen, nil
	case "sa":
		return groupSA, nil
	}
	return 0, fmt.Errorf("unknown group %q: %w", s, ErrMalformed)
}

// surnamesPer is the population the head weights of surnames.csv count
// in: the head is about a quarter of it, as the commonest few hundred UK
// surnames are, and the synthetic tail takes the rest.
const surnamesPer = 100_000

// givenTailShare is the share of given names drawn from the synthetic tail.
const givenTailShare = 0.06

func buildTables() (*tables, error) {
	t := &tables{surnames: &table{}, nicknames: map[string][]string{}, streets: &table{}, kinds: &table{}, townTable: &table{}}
	seen := map[string]bool{}
	err := readData("surnames.csv", 3, func(_ int, f []string) error {
		g, err := parseGroup(f[1])
		if err != nil {
			return err
		}
		w, err := strconv.ParseFloat(f[2], 64)
		if err != nil || w <= 0 {
			return fmt.Errorf("weight field: %w", ErrMalformed)
		}
		t.surnames.add(f[0], g, w)
		seen[strings.ToLower(f[0])] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	head := t.surnames.cum[len(t.surnames.cum)-1]
	t.head = make(map[string]bool, len(t.surnames.names))
	for _, n := range t.surnames.names {
		t.head[n] = true
	}
	tail := surnameTail(seen)
	tailMass := max(surnamesPer-head, 0)
	// The tail continues the head's decline: its commonest names are about
	// as frequent as the head's rarest (≈ 40 per 100,000), its rarest about
	// 1 per 100,000.
	tailWeight := func(i int) float64 { return 1 / float64(i+500) }
	var norm float64
	for i := range tail {
		norm += tailWeight(i)
	}
	for i, n := range tail {
		t.surnames.add(n, groupGen, tailMass*tailWeight(i)/norm)
	}

	type given struct {
		name       string
		sex, group uint8
		peak       float64
		w          float64
	}
	var gs []given
	err = readData("given_names.csv", 5, func(_ int, f []string) error {
		var sex uint8
		switch f[1] {
		case "F":
		case "M":
			sex = 1
		default:
			return fmt.Errorf("sex field: %w", ErrMalformed)
		}
		g, err := parseGroup(f[2])
		if err != nil {
			return err
		}
		peak, err1 := strconv.ParseFloat(f[3], 64)
		w, err2 := strconv.ParseFloat(f[4], 64)
		if err1 != nil || err2 != nil || w <= 0 {
			return fmt.Errorf("peak or weight field: %w", ErrMalformed)
		}
		gs = append(gs, given{f[0], sex, g, peak, w})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for sex := range 2 {
		for g := range numGroups {
			for d := range numDecades {
				tb := &table{}
				mid := float64(firstDecade + 10*d + 5)
				for _, n := range gs {
					if int(n.sex) != sex || int(n.group) != g {
						continue
					}
					tb.add(n.name, n.group, n.w*math.Pow(0.5, math.Abs(mid-n.peak)/15))
				}
				t.given[sex][g][d] = tb
			}
		}
		t.givenTail[sex] = givenTail(sex)
	}

	err = readData("nicknames.csv", 2, func(_ int, f []string) error {
		t.nicknames[f[0]] = f[1:]
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readData("streets.csv", 3, func(_ int, f []string) error {
		w, err := strconv.ParseFloat(f[2], 64)
		if err != nil || w <= 0 {
			return fmt.Errorf("weight field: %w", ErrMalformed)
		}
		switch f[0] {
		case "name":
			t.streets.add(f[1], 0, w)
		case "kind":
			t.kinds.add(f[1], 0, w)
		default:
			return fmt.Errorf("first field: %w", ErrMalformed)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readData("towns.csv", 6, func(_ int, f []string) error {
		lo, err1 := strconv.Atoi(f[3])
		hi, err2 := strconv.Atoi(f[4])
		w, err3 := strconv.ParseFloat(f[5], 64)
		if err1 != nil || err2 != nil || err3 != nil || lo > hi || w <= 0 {
			return fmt.Errorf("district or weight field: %w", ErrMalformed)
		}
		t.towns = append(t.towns, town{name: f[0], area: f[1], dialling: f[2], firstDistrict: lo, lastDistrict: hi})
		t.townTable.add(f[0], 0, w)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// zipf is the weight of the i-th name of a synthetic tail.
func zipf(i int) float64 { return 1 / math.Pow(float64(i+20), 1.1) }

// surnameTail builds the synthetic long tail of surnames: English
// place-name compounds (Ashworth, Thornley), Scottish and Irish patronymics,
// and rarer syllable-built names, in a fixed pseudo-random order so the
// Zipf weights do not follow the alphabet. Names already in the head are
// skipped.
func surnameTail(seen map[string]bool) []string {
	prefixes := strings.Fields("Ash Brad Chad Hol Wal Whit Brom Thorn Hart Fair Black Brook Bur Cal Cran Dal Elm Fen Gold Ham Hay Hes Kirk Lang Lit Mar Mid Nor Old Pen Ram Red Rod Sal Sel Shel Stan Stock Sum Tad Thorp Wad Wat Wes Wick Win Wor Yar Ather Bel Bux Cart Cot Dun Fal Gar Hal Hux Lock Pick Rush")
	suffixes := strings.Fields("ley ton worth field by ham well wood ford son man ridge croft shaw stone wick more combe dale bury hurst land thorpe er low den ing cott hill")
	mac := strings.Fields("Intyre Kay Leod Kenzie Lean Gregor Callum Nab Donnell Gill Ewan Farlane Kinnon Laren Millan Neill Pherson Queen Rae Tavish")
	irish := strings.Fields("Reilly Sullivan Donnell Keefe Hara Leary Mahony Rourke Shea Toole Dwyer Grady")
	onsets := strings.Fields("B C D F G H J K L M N P R S T V W Br Cr Dr Gr Tr St Sh Ch")
	vowels := strings.Fields("a e i o u ai ea oo")
	codas := strings.Fields("ll ck nn rr tt rd nd mm dge ve se nt rton lton nley mley rby well ston rne")
	mids := strings.Fields("l r n th m d v b")
	ends := strings.Fields("er on ey in ow ick ett am")
	var out []string
	addName := func(n string) {
		if k := strings.ToLower(n); !seen[k] {
			seen[k] = true
			out = append(out, n)
		}
	}
	for _, p := range prefixes {
		for _, s := range suffixes {
			addName(p + s)
		}
	}
	for _, m := range mac {
		addName("Mc" + m)
		addName("Mac" + m)
	}
	for _, s := range irish {
		addName("O'" + s)
	}
	common := len(out)
	for _, o := range onsets {
		for _, v := range vowels {
			for _, c := range codas {
				addName(o + v + c)
			}
		}
	}
	for _, o := range onsets {
		for _, v := range vowels {
			for _, m := range mids {
				for _, e := range ends {
					addName(o + v + m + e)
				}
			}
		}
	}
	// Compounds and patronymics first (commoner), syllable names after;
	// each part shuffled with a fixed seed.
	r := rand.New(rand.NewPCG(0x5eed, 1))
	r.Shuffle(common, func(i, j int) { out[i], out[j] = out[j], out[i] })
	rest := out[common:]
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	return out
}

// givenTail builds rare given names for one sex from syllables.
func givenTail(sex int) *table {
	var starts, ends []string
	if sex == 0 {
		starts = strings.Fields("Ja Ka Ma Sha La Ta Bri Ro El Ar Jo Ca Da Re Ni Si")
		ends = strings.Fields("nelle lia rina lyn nessa della ria tte nna sha mara leigh")
	} else {
		starts = strings.Fields("Bran Cal Dar Ed Fin Gar Jar Kai Lor Mal Ros Tor Wil Al Her Ken")
		ends = strings.Fields("den ric vin ton ley ford rick lan mond wyn bert ian")
	}
	t := &table{}
	i := 0
	for _, s := range starts {
		for _, e := range ends {
			t.add(s+e, groupGen, zipf(i))
			i++
		}
	}
	return t
}

// isHeadSurname reports whether name is one of the common surnames of
// surnames.csv.
func (t *tables) isHeadSurname(name string) bool { return t.head[name] }
