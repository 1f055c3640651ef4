package benchmarks

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/antzucaro/matchr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cohort is a generated cohort read back from disk.
type cohort struct {
	stats   SynthStats
	sources []string
	header  map[string][]string
	rows    map[string][][]string // per source, data rows
	truth   [][]string
}

// readCSVStrict parses a file as strict CSV: every row must have the
// header's field count.
func readCSVStrict(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	all, err := r.ReadAll()
	require.NoError(t, err, "file %s must be well-formed CSV", path)
	require.NotEmpty(t, all, "file %s must have a header", path)
	return all
}

func generate(t *testing.T, opts SynthOptions) cohort {
	t.Helper()
	if opts.Out == "" {
		opts.Out = t.TempDir()
	}
	st, err := Synth(t.Context(), opts)
	require.NoError(t, err)
	r, err := opts.resolve()
	require.NoError(t, err)
	c := cohort{stats: st, sources: r.sources, header: map[string][]string{}, rows: map[string][][]string{}}
	for _, s := range r.sources {
		all := readCSVStrict(t, filepath.Join(opts.Out, s+".csv"))
		c.header[s], c.rows[s] = all[0], all[1:]
	}
	all := readCSVStrict(t, filepath.Join(opts.Out, "truth.csv"))
	require.Equal(t, TruthHeader, all[0])
	c.truth = all[1:]
	return c
}

func TestSynthZeroOptionsUseDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	st, err := Synth(t.Context(), SynthOptions{})
	require.NoError(t, err)
	assert.Equal(t, DefaultPeople, st.People)
	for _, s := range DefaultSources {
		assert.FileExists(t, filepath.Join(DefaultOut, s+".csv"))
		assert.Positive(t, st.Records[s], "source %s", s)
	}
	assert.FileExists(t, filepath.Join(DefaultOut, "truth.csv"))
	// GP holds most people, community fewest (presence 0.95 > 0.45 > 0.20).
	assert.Greater(t, st.Records["gp"], st.Records["hospital"])
	assert.Greater(t, st.Records["hospital"], st.Records["community"])
	ratio := float64(st.TotalRecords) / float64(st.People)
	assert.InDelta(t, 1.64, ratio, 0.08, "records per person")
}

func TestSynthTruthCoversEveryRecordOnce(t *testing.T) {
	c := generate(t, SynthOptions{People: 3000, Seed: 7})
	seen := map[string]string{} // source/record -> person
	perPerson := map[string]map[string]int{}
	for _, row := range c.truth {
		require.Len(t, row, 3)
		k := row[0] + "/" + row[1]
		_, dup := seen[k]
		require.False(t, dup, "truth lists %s twice", k)
		seen[k] = row[2]
		if perPerson[row[2]] == nil {
			perPerson[row[2]] = map[string]int{}
		}
		perPerson[row[2]][row[0]]++
	}
	total := 0
	for _, s := range c.sources {
		assert.Equal(t, SourceHeader, c.header[s])
		assert.Len(t, c.rows[s], c.stats.Records[s], "source %s row count", s)
		prefix := sourcePrefix(s)
		for _, row := range c.rows[s] {
			id := row[fRecordID]
			_, ok := seen[s+"/"+id]
			assert.True(t, ok, "record %s/%s missing from truth", s, id)
			delete(seen, s+"/"+id)
			// Source-local id: prefix and eight digits, nothing else.
			rest, ok := strings.CutPrefix(id, prefix)
			assert.True(t, ok && len(rest) == 8 && strings.Trim(rest, "0123456789") == "", "record id %q", id)
		}
		total += len(c.rows[s])
	}
	assert.Empty(t, seen, "truth rows with no record")
	assert.Equal(t, c.stats.TotalRecords, total)
	assert.Equal(t, c.stats.PeopleWithRecords, len(perPerson))

	var pairs, cross int64
	for _, bySrc := range perPerson {
		n, within := 0, 0
		for _, k := range bySrc {
			n += k
			within += k * (k - 1) / 2
		}
		pairs += int64(n * (n - 1) / 2)
		cross += int64(n*(n-1)/2 - within)
	}
	assert.Equal(t, c.stats.TruePairs, pairs)
	assert.Equal(t, c.stats.CrossSourcePairs, cross)
	// Duplicate registrations exist: some person has two records in one source.
	assert.Greater(t, pairs, cross, "expected some within-source duplicates")
}

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = b
	}
	return out
}

func TestSynthDeterministic(t *testing.T) {
	gen := func(seed uint64) map[string][]byte {
		dir := t.TempDir()
		_, err := Synth(t.Context(), SynthOptions{People: 5000, Seed: seed, Out: dir})
		require.NoError(t, err)
		return readAll(t, dir)
	}
	a, b, other := gen(42), gen(42), gen(43)
	require.Len(t, a, 4)
	for name, data := range a {
		assert.True(t, bytes.Equal(data, b[name]), "same seed must give identical %s", name)
		assert.False(t, bytes.Equal(data, other[name]), "different seed must give different %s", name)
	}
}

// personIndex parses a truth person id.
func personIndex(t *testing.T, id string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(id, "P"))
	require.NoError(t, err)
	return n
}

// withPerson pairs every source record with its clean person.
func withPerson(t *testing.T, c cohort, opts SynthOptions, each func(src string, rec []string, p *person)) {
	t.Helper()
	r, err := opts.resolve()
	require.NoError(t, err)
	g, err := newGenerator(r)
	require.NoError(t, err)
	owner := map[string]int{}
	for _, row := range c.truth {
		owner[row[0]+"/"+row[1]] = personIndex(t, row[2])
	}
	for _, s := range c.sources {
		for _, rec := range c.rows[s] {
			i, ok := owner[s+"/"+rec[fRecordID]]
			require.True(t, ok)
			p := g.clean(i)
			each(s, rec, &p)
		}
	}
}

func TestSynthCleanRecordsCarryValidDistinctNHSNumbers(t *testing.T) {
	opts := SynthOptions{People: 20000, Seed: 3, ErrorScale: -1}
	c := generate(t, opts)
	byNumber := map[string]int{}
	withPerson(t, c, opts, func(src string, rec []string, p *person) {
		n := nhsnumber.Normalise(rec[fNHS])
		require.NotEmpty(t, n, "clean record %s/%s must have an NHS number", src, rec[fRecordID])
		assert.True(t, nhsnumber.Valid(n), "record %s/%s", src, rec[fRecordID])
		assert.Equal(t, string(p.nhs[:]), n)
		assert.True(t, n >= "4000000000" && n <= "4999999999" || n >= "6000000000" && n <= "7088000019", "number outside issued ranges")
		if prev, ok := byNumber[n]; ok {
			assert.Equal(t, prev, p.idx, "two people share an NHS number")
		}
		byNumber[n] = p.idx
		// A clean record reproduces the clean person apart from formatting.
		assert.True(t, strings.EqualFold(rec[fGiven], p.given))
		assert.True(t, strings.EqualFold(rec[fFamily], p.family))
		assert.Equal(t, formatDate(p.year, p.month, p.day), rec[fBirth])
		assert.True(t, sameAddress(p, rec[fAddress]), "record %s address", rec[fRecordID])
		assert.Equal(t, strings.ReplaceAll(p.postal, " ", ""), strings.ReplaceAll(rec[fPostcode], " ", ""))
		assert.Equal(t, p.email, rec[fEmail])
	})
}

func TestSynthMistypedNHSNumbersAreInvalid(t *testing.T) {
	prof := DefaultProfile("gp")
	prof.Presence, prof.Errors = 1, ErrorRates{NHSTypo: 1}
	opts := SynthOptions{People: 20000, Seed: 5, Sources: []string{"gp"}, Profiles: map[string]SourceProfile{"gp": prof}}
	c := generate(t, opts)
	require.NotEmpty(t, c.rows["gp"])
	withPerson(t, c, opts, func(_ string, rec []string, p *person) {
		n := nhsnumber.Normalise(rec[fNHS])
		require.Len(t, n, 10)
		assert.False(t, nhsnumber.Valid(n), "record %s: mistyped number passes the check", rec[fRecordID])
		assert.NotEqual(t, string(p.nhs[:]), n)
		// One substituted digit or one adjacent transposition.
		assert.Equal(t, 1, matchr.DamerauLevenshtein(n, string(p.nhs[:])), "record %s", rec[fRecordID])
	})
}

func TestNHSNumbersAllocation(t *testing.T) {
	g, err := newGenerator(resolved{people: 1, seed: 9})
	require.NoError(t, err)
	seen := map[[10]byte]bool{}
	check := func(i int) {
		n := g.nhsOf(i)
		s := string(n[:])
		require.True(t, nhsnumber.Valid(s), "index %d", i)
		require.False(t, repdigit(n[:]))
		require.True(t, s >= "4000000000" && s <= "4999999999" || s >= "6000000000" && s <= "7088000019", "index %d outside issued ranges", i)
		require.False(t, seen[n], "index %d repeats a number", i)
		seen[n] = true
	}
	for i := range 200_000 {
		check(i)
	}
	for i := nhsCapacity - 1000; i < nhsCapacity; i++ {
		check(i)
	}
	// Every slot of the blocks holding repdigits still resolves.
	for _, blk := range []uint64{44444444, 66666666} {
		b := blk - 40_000_000
		if blk >= 60_000_000 {
			b = blk - 60_000_000 + nhsBlocks1
		}
		for slot := range uint64(nhsSlots) {
			q := b*nhsSlots + slot
			// invert q = (mul*i + off) mod capacity by search is too slow;
			// call the block logic directly through a generator with offset q.
			g2 := *g
			g2.nhsOff = q
			n := g2.nhsOf(0)
			assert.True(t, nhsnumber.Valid(string(n[:])))
			assert.Equal(t, strconv.FormatUint(blk, 10), string(n[:8]))
		}
	}
	assert.Equal(t, uint64(1), gcd(nhsMul, nhsCapacity), "the index permutation must be a bijection")
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func TestTypoIsOneKeyingError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, name := range []string{"Smith", "O'Brien", "Li", "Ng", "Anne", "Lloyd-Davies", "X"} {
		for range 500 {
			got := typo(r, name)
			require.NotEqual(t, name, got)
			assert.Equal(t, 1, matchr.DamerauLevenshtein(strings.ToLower(name), strings.ToLower(got)), "%q -> %q", name, got)
		}
	}
	assert.Len(t, typo(r, ""), 1)
}

func TestNameTablesAreRealistic(t *testing.T) {
	tb, err := loadTables()
	require.NoError(t, err)
	weight := func(tt *table, name string) float64 {
		for i, n := range tt.names {
			if n == name {
				lo := 0.0
				if i > 0 {
					lo = tt.cum[i-1]
				}
				return (tt.cum[i] - lo) / tt.cum[len(tt.cum)-1]
			}
		}
		return 0
	}
	s := tb.surnames
	smith := weight(s, "Smith")
	assert.InDelta(t, 0.012, smith, 0.004, "Smith share")
	for _, n := range s.names[1:] {
		assert.LessOrEqual(t, weight(s, n), smith, "%s more common than Smith", n)
	}
	assert.Greater(t, len(s.names), 3000, "surnames need a long tail")
	g := func(sex, decade int, name string) float64 {
		return weight(tb.given[sex][groupGen][(decade-firstDecade)/10], name)
	}
	assert.Greater(t, g(0, 1940, "Margaret"), 10*g(0, 2010, "Margaret"))
	assert.Greater(t, g(0, 2010, "Olivia"), 10*g(0, 1940, "Olivia"))
	assert.Greater(t, g(1, 1940, "John"), g(1, 2010, "John"))
	assert.Zero(t, g(1, 1960, "Margaret"), "given names are sex-specific")
	assert.Contains(t, tb.nicknames["Robert"], "Bob")
	assert.Contains(t, tb.nicknames["Mohammed"], "Muhammad")
}

func TestSynthBadOptions(t *testing.T) {
	bad := func(mut func(*SourceProfile)) map[string]SourceProfile {
		p := DefaultProfile("gp")
		mut(&p)
		return map[string]SourceProfile{"gp": p}
	}
	tests := []struct {
		name string
		opts SynthOptions
	}{
		{"negative people", SynthOptions{People: -1}},
		{"too many people", SynthOptions{People: nhsCapacity + 1}},
		{"source with a slash", SynthOptions{Sources: []string{"a/b"}}},
		{"source named truth", SynthOptions{Sources: []string{"truth"}}},
		{"duplicate source", SynthOptions{Sources: []string{"gp", "gp"}}},
		{"presence above one", SynthOptions{Sources: []string{"gp"}, Profiles: bad(func(p *SourceProfile) { p.Presence = 1.5 })}},
		{"negative rate", SynthOptions{Sources: []string{"gp"}, Profiles: bad(func(p *SourceProfile) { p.Errors.Moved = -0.1 })}},
		{"exclusive rates above one", SynthOptions{Sources: []string{"gp"}, Profiles: bad(func(p *SourceProfile) {
			p.Errors.MissingNHS, p.Errors.NHSTypo = 0.7, 0.5
		})}},
		{"twin rate above one", SynthOptions{TwinRate: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Out = t.TempDir()
			_, err := Synth(t.Context(), tc.opts)
			assert.ErrorIs(t, err, ErrBadOptions)
		})
	}
}

func TestSynthCancelled(t *testing.T) {
	ctx, cancel := contextWithCancel(t)
	cancel()
	_, err := Synth(ctx, SynthOptions{People: 10000, Out: t.TempDir()})
	assert.Error(t, err)
}

func TestSynthTwinsAndLookalikes(t *testing.T) {
	r, err := SynthOptions{People: 40000, Seed: 11}.resolve()
	require.NoError(t, err)
	g, err := newGenerator(r)
	require.NoError(t, err)
	twins, looks, common := 0, 0, 0
	for i := 0; i+1 < r.people; i += 2 {
		if !g.twinPair(i / 2) {
			continue
		}
		twins += 2
		a, b := g.clean(i), g.clean(i+1)
		assert.Equal(t, a.family, b.family)
		assert.Equal(t, [3]int{a.year, a.month, a.day}, [3]int{b.year, b.month, b.day})
		assert.Equal(t, a.house+a.postal, b.house+b.postal)
		assert.NotEqual(t, a.given, b.given, "twins %d,%d share a given name", i, i+1)
		assert.NotEqual(t, a.nhs, b.nhs)
	}
	for i := range r.people {
		j := g.lookalikeOf(i)
		if j < 0 {
			continue
		}
		looks++
		a, b := g.clean(i), g.clean(j)
		if g.t.isHeadSurname(a.family) {
			common++
		}
		assert.Less(t, j, i)
		assert.Equal(t, a.given+a.family, b.given+b.family)
		assert.Equal(t, [3]int{a.year, a.month, a.day}, [3]int{b.year, b.month, b.day})
		assert.NotEqual(t, a.nhs, b.nhs)
	}
	// Lookalikes share common names: most copy a head surname, against a
	// quarter of people at large.
	assert.Greater(t, float64(common)/float64(looks), 0.75, "lookalikes should mostly carry common surnames")
	assert.InDelta(t, DefaultTwinRate, float64(twins)/float64(r.people), 0.006)
	assert.InDelta(t, DefaultLookalikeRate, float64(looks)/float64(r.people), 0.002)
}

// rateCounter counts, per error kind, how often an error was detected and
// how many records could have had it.
type rateCounter struct{ hit, of [numErrKinds]int }

func (c *rateCounter) see(k errKind, eligible, hit bool) {
	if eligible {
		c.of[k]++
		if hit {
			c.hit[k]++
		}
	}
}

// TestSynthErrorRates generates 100,000 people into one source with
// known rates and measures every error by comparing each record with its
// clean person, without looking at what the generator decided.
func TestSynthErrorRates(t *testing.T) {
	if testing.Short() {
		t.Skip("100k-person error-rate measurement skipped in -short")
	}
	rates := ErrorRates{
		GivenTypo: 0.05, FamilyTypo: 0.05, Nickname: 0.10, NameSwap: 0.03, FamilyChange: 0.10,
		DateTransposed: 0.05, YearOffByOne: 0.05, PlaceholderName: 0.02, PlaceholderDate: 0.02,
		MissingNHS: 0.05, NHSTypo: 0.05, NHSOther: 0.05, MissingGiven: 0.02, MissingFamily: 0.02,
		MissingDate: 0.02, MissingSex: 0.05, MissingAddress: 0.05, Moved: 0.10, MissingPhone: 0.10, MissingEmail: 0.20,
	}
	prof := SourceProfile{Presence: 1, Duplicate: 0.1, UpperCase: 0.3, SpacedNHS: 0.3, Errors: rates}
	opts := SynthOptions{People: 100_000, Seed: 2026, Sources: []string{"a"}, Profiles: map[string]SourceProfile{"a": prof}}
	c := generate(t, opts)
	tb, err := loadTables()
	require.NoError(t, err)
	alias := func(formal, s string) bool {
		for _, a := range tb.nicknames[formal] {
			if strings.EqualFold(a, s) {
				return true
			}
		}
		return false
	}
	dist := func(a, b string) int {
		if alias(b, a) {
			return 0
		}
		return matchr.DamerauLevenshtein(strings.ToLower(a), strings.ToLower(b))
	}
	var rc rateCounter
	dupes := map[int]int{}
	withPerson(t, c, opts, func(_ string, rec []string, p *person) {
		dupes[p.idx]++
		given, family := rec[fGiven], rec[fFamily]
		placeholder := given == "UNKNOWN" && family == "UNKNOWN" || given == "BABY" && p.age() < 1
		rc.see(errPlaceholderName, true, placeholder)
		if !placeholder {
			// Orientation: swapped when the crossed comparison is closer.
			swapped := given != "" && family != "" &&
				dist(given, p.family)+dist(family, p.given) < dist(given, p.given)+dist(family, p.family)
			if swapped {
				given, family = family, given
			}
			rc.see(errNameSwap, given != "" && family != "", swapped)
			g, f := strings.EqualFold(given, p.given), strings.EqualFold(family, p.family)
			rc.see(errMissingGiven, true, given == "")
			rc.see(errNickname, len(tb.nicknames[p.given]) > 0, alias(p.given, given))
			rc.see(errGivenTypo, true, !g && given != "" && !alias(p.given, given) && dist(given, p.given) == 1)
			rc.see(errMissingFamily, true, family == "")
			changed := !f && family != "" && (strings.HasPrefix(strings.ToLower(family), strings.ToLower(p.family)+"-") || dist(family, p.family) > 1)
			rc.see(errFamilyChange, p.female && p.age() >= 18, changed)
			rc.see(errFamilyTypo, true, !f && family != "" && !changed)
			if !g && given != "" && !alias(p.given, given) {
				assert.Equal(t, 1, dist(given, p.given), "record %s: unexplained given-name change", rec[fRecordID])
			}
		}
		b := rec[fBirth]
		rc.see(errPlaceholderDate, true, b == "1900-01-01")
		rc.see(errMissingDate, true, b == "")
		rc.see(errDateTransposed, p.day <= 12 && p.day != p.month, b == formatDate(p.year, p.day, p.month))
		off := false
		for _, y := range []int{p.year - 1, p.year + 1} {
			off = off || b == formatDate(y, p.month, p.day) || p.month == 2 && p.day == 29 && b == formatDate(y, 2, 28)
		}
		rc.see(errYearOffByOne, true, off)
		if b != "" && b != "1900-01-01" && b != formatDate(p.year, p.month, p.day) {
			assert.True(t, off || b == formatDate(p.year, p.day, p.month), "record %s: unexplained birth date", rec[fRecordID])
		}
		rc.see(errMissingSex, true, rec[fSex] == "")
		n := nhsnumber.Normalise(rec[fNHS])
		rc.see(errMissingNHS, true, rec[fNHS] == "")
		rc.see(errNHSTypo, true, rec[fNHS] != "" && !nhsnumber.Valid(n))
		rc.see(errNHSOther, true, nhsnumber.Valid(n) && n != string(p.nhs[:]))
		rc.see(errMissingAddress, true, rec[fAddress] == "" && rec[fPostcode] == "")
		rc.see(errMoved, true, rec[fAddress] != "" && !sameAddress(p, rec[fAddress]))
		mobile := p.phone != "" && p.phoneCode == 0
		rc.see(errMissingPhone, mobile, rec[fPhone] == "")
		rc.see(errMissingEmail, p.email != "", rec[fEmail] == "")
	})
	want := map[errKind]float64{
		errGivenTypo: rates.GivenTypo, errFamilyTypo: rates.FamilyTypo, errNickname: rates.Nickname, errNameSwap: rates.NameSwap,
		errFamilyChange: rates.FamilyChange, errDateTransposed: rates.DateTransposed, errYearOffByOne: rates.YearOffByOne,
		errPlaceholderName: rates.PlaceholderName, errPlaceholderDate: rates.PlaceholderDate, errMissingNHS: rates.MissingNHS,
		errNHSTypo: rates.NHSTypo, errNHSOther: rates.NHSOther, errMissingGiven: rates.MissingGiven, errMissingFamily: rates.MissingFamily,
		errMissingDate: rates.MissingDate, errMissingSex: rates.MissingSex, errMissingAddress: rates.MissingAddress,
		errMoved: rates.Moved, errMissingPhone: rates.MissingPhone, errMissingEmail: rates.MissingEmail,
	}
	// Name errors are counted among records that are not placeholders,
	// which is what the rates mean. The tolerance is 4.5 standard errors
	// plus 0.003 for detection slips (a married name one edit from the
	// maiden name reads as a typo).
	for k, p := range want {
		n := rc.of[k]
		require.Greater(t, n, 1000, "error %v: too few eligible records", k)
		got := float64(rc.hit[k]) / float64(n)
		tol := 4.5*math.Sqrt(p*(1-p)/float64(n)) + 0.003
		assert.InDelta(t, p, got, tol, "error %v: measured %.4f of %d, configured %.4f", k, got, n, p)
		t.Logf("%-16v configured %.3f measured %.4f over %d records", k, p, got, n)
	}
	twice := 0
	for _, k := range dupes {
		if k == 2 {
			twice++
		}
	}
	assert.InDelta(t, prof.Duplicate, float64(twice)/float64(len(dupes)), 0.005, "duplicate registrations")
	assert.Len(t, dupes, opts.People, "presence 1 puts everyone in the source")
}

func TestSynthFailsCleanlyOnUnwritableOut(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err := Synth(t.Context(), SynthOptions{People: 10, Out: filepath.Join(file, "sub")})
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrBadOptions))
}

// TestRecordShowsExactlyTheAppliedErrors checks record against the errors
// it reports: each applied error is visible in the output, and a field with
// no applied error equals the clean value (up to formatting).
func TestRecordShowsExactlyTheAppliedErrors(t *testing.T) {
	rates := ErrorRates{
		GivenTypo: 0.1, FamilyTypo: 0.1, Nickname: 0.2, NameSwap: 0.1, FamilyChange: 0.2,
		DateTransposed: 0.2, YearOffByOne: 0.2, PlaceholderName: 0.05, PlaceholderDate: 0.1,
		MissingNHS: 0.1, NHSTypo: 0.1, NHSOther: 0.1, MissingGiven: 0.05, MissingFamily: 0.05,
		MissingDate: 0.1, MissingSex: 0.1, MissingAddress: 0.1, Moved: 0.2, MissingPhone: 0.2, MissingEmail: 0.2,
	}
	r, err := SynthOptions{People: 5000, Sources: []string{"x"}, Profiles: map[string]SourceProfile{"x": {Presence: 1, UpperCase: 0.5, SpacedNHS: 0.5, Errors: rates}}}.resolve()
	require.NoError(t, err)
	g, err := newGenerator(r)
	require.NoError(t, err)
	tb, err := loadTables()
	require.NoError(t, err)
	var seen errSet
	for i := range r.people {
		p := g.clean(i)
		rnd := g.seedRand(tagRecord, uint64(i), 0)
		rec, applied := g.record(rnd, 0, &p)
		seen |= applied
		given, family := rec[fGiven], rec[fFamily]
		if applied.has(errNameSwap) {
			given, family = family, given
		}
		switch {
		case applied.has(errPlaceholderName):
			assert.Contains(t, []string{"UNKNOWN", "BABY"}, given)
		case applied.has(errMissingGiven):
			assert.Empty(t, given)
		case applied.has(errNickname):
			assert.True(t, slices.ContainsFunc(tb.nicknames[p.given], func(a string) bool { return strings.EqualFold(a, given) }), "person %d", i)
		case applied.has(errGivenTypo):
			assert.Equal(t, 1, matchr.DamerauLevenshtein(strings.ToLower(given), strings.ToLower(p.given)))
		default:
			assert.True(t, strings.EqualFold(given, p.given), "person %d: given changed with no error", i)
		}
		switch {
		case applied.has(errPlaceholderName):
		case applied.has(errMissingFamily):
			assert.Empty(t, family)
		case applied.has(errFamilyChange):
			assert.True(t, p.female && p.age() >= 18)
			assert.False(t, strings.EqualFold(family, p.family))
		case applied.has(errFamilyTypo):
			assert.Equal(t, 1, matchr.DamerauLevenshtein(strings.ToLower(family), strings.ToLower(p.family)))
		default:
			assert.True(t, strings.EqualFold(family, p.family), "person %d: family changed with no error", i)
		}
		switch {
		case applied.has(errPlaceholderDate):
			assert.Equal(t, "1900-01-01", rec[fBirth])
		case applied.has(errMissingDate):
			assert.Empty(t, rec[fBirth])
		case applied.has(errDateTransposed):
			assert.Equal(t, formatDate(p.year, p.day, p.month), rec[fBirth])
		case applied.has(errYearOffByOne):
			assert.NotEqual(t, formatDate(p.year, p.month, p.day), rec[fBirth])
			assert.Equal(t, fmt.Sprintf("%02d-", p.month), rec[fBirth][5:8])
		default:
			assert.Equal(t, formatDate(p.year, p.month, p.day), rec[fBirth])
		}
		n := nhsnumber.Normalise(rec[fNHS])
		switch {
		case applied.has(errMissingNHS):
			assert.Empty(t, rec[fNHS])
		case applied.has(errNHSTypo):
			assert.False(t, nhsnumber.Valid(n))
		case applied.has(errNHSOther):
			assert.True(t, nhsnumber.Valid(n))
			assert.NotEqual(t, string(p.nhs[:]), n)
		default:
			assert.Equal(t, string(p.nhs[:]), n)
		}
		assert.Equal(t, applied.has(errMissingSex), rec[fSex] == "")
		switch {
		case applied.has(errMissingAddress):
			assert.Empty(t, rec[fAddress])
			assert.Empty(t, rec[fPostcode])
		case !applied.has(errMoved):
			assert.True(t, sameAddress(&p, rec[fAddress]), "person %d address", i)
		}
		if applied.has(errMissingEmail) || p.email == "" {
			assert.Empty(t, rec[fEmail])
		} else {
			assert.Equal(t, p.email, rec[fEmail])
		}
	}
	for k := range numErrKinds {
		assert.True(t, seen.has(k), "error %v never applied", k)
	}
}

func TestErrorScaleCapsRates(t *testing.T) {
	tests := []struct {
		name  string
		scale float64
		check func(t *testing.T, e ErrorRates)
	}{
		{"clean", -1, func(t *testing.T, e ErrorRates) { assert.Equal(t, ErrorRates{}, e) }},
		{"default", 0, func(t *testing.T, e ErrorRates) { assert.Equal(t, DefaultProfile("hospital").Errors, e) }},
		{"double", 2, func(t *testing.T, e ErrorRates) {
			assert.InDelta(t, 2*DefaultProfile("hospital").Errors.Moved, e.Moved, 1e-12)
		}},
		{"tenfold is capped", 10, func(t *testing.T, e ErrorRates) {
			require.NoError(t, e.check())
			assert.Equal(t, 1.0, e.MissingEmail, "6.0 capped at 1")
			assert.InDelta(t, 1.0, e.MissingAddress+e.Moved, 1e-9, "group shrunk to sum 1")
			assert.InDelta(t, 0.3/1.8, e.MissingAddress, 1e-9, "shrunk in proportion")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := SynthOptions{Sources: []string{"hospital"}, ErrorScale: tc.scale}.resolve()
			require.NoError(t, err)
			tc.check(t, r.profiles[0].Errors)
		})
	}
}

// sameAddress reports whether a record's address is the person's, up to
// case and an abbreviated street kind.
func sameAddress(p *person, got string) bool {
	full := p.house + ", " + p.town
	return strings.EqualFold(got, full) || strings.EqualFold(got, abbreviateStreet(full))
}

func TestAbbreviateStreet(t *testing.T) {
	tests := []struct{ in, want string }{
		{"12 Church Road, Leeds", "12 Church Rd, Leeds"},
		{"Flat 3, 12 Church Road, Leeds", "Flat 3, 12 Church Rd, Leeds"},
		{"1 High Street, Newcastle upon Tyne", "1 High St, Newcastle upon Tyne"},
		{"9 Park Crescent, Stoke-on-Trent", "9 Park Cres, Stoke-on-Trent"},
		{"4 Oak Mews, York", "4 Oak Mews, York"},
		{"no comma", "no comma"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) { assert.Equal(t, tc.want, abbreviateStreet(tc.in)) })
	}
}
