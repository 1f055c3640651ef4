package benchmarks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Sentinel errors of the benchmarks package.
var (
	// ErrBadOptions reports generator or evaluation options that cannot be
	// used (a negative count, rates outside [0,1], a bad source name).
	ErrBadOptions = errors.New("benchmarks: bad options")
	// ErrMalformed reports an input file (truth, clusters or embedded data)
	// that cannot be parsed; the wrapping error names the file and line.
	ErrMalformed = errors.New("benchmarks: malformed input")
	// ErrAmbiguous reports a record id that cannot be matched between truth
	// and clusters because one side has sources and the id occurs in more
	// than one of them.
	ErrAmbiguous = errors.New("benchmarks: ambiguous record id")
)

// Defaults used when the corresponding SynthOptions field is zero.
const (
	// DefaultPeople is the cohort size when SynthOptions.People is zero.
	DefaultPeople = 1000
	// DefaultOut is the output directory when SynthOptions.Out is empty.
	DefaultOut = "synth-out"
	// DefaultTwinRate is the share of people who are one of a twin pair.
	DefaultTwinRate = 0.03
	// DefaultLookalikeRate is the share of people given the name, sex and
	// birth date of another, unrelated person.
	DefaultLookalikeRate = 0.005
)

// DefaultSources are the sources generated when SynthOptions.Sources is
// empty.
var DefaultSources = []string{"gp", "hospital", "community"}

// CSV headers of the generated files.
var (
	// SourceHeader is the header of each DIR/<source>.csv file.
	SourceHeader = []string{"record_id", "nhs_number", "given", "family", "birth_date", "sex", "address", "postcode", "phone", "email"}
	// TruthHeader is the header of DIR/truth.csv.
	TruthHeader = []string{"source", "record_id", "person_id"}
)

// SynthOptions configures [Synth]. The zero value generates
// [DefaultPeople] people over [DefaultSources] with seed 0 into
// [DefaultOut], using [DefaultProfile] for every source.
type SynthOptions struct {
	// People is the number of distinct people; zero means DefaultPeople.
	People int
	// Sources names the sources, one output file each; empty means
	// DefaultSources. Names must be non-empty, unique, and made of letters,
	// digits, '-' and '_' (they become file names), and not "truth".
	Sources []string
	// Seed selects the cohort; the same options and seed give identical
	// bytes. Zero is a valid seed.
	Seed uint64
	// Out is the output directory, created if needed; empty means
	// DefaultOut.
	Out string
	// Profiles overrides the profile of a source by name. A source absent
	// from the map uses DefaultProfile(name). A profile given here is used
	// as it is: a zero rate means that error never happens.
	Profiles map[string]SourceProfile
	// ErrorScale multiplies every error rate of every source; zero means 1.
	// Use a negative value for a clean cohort with no errors at all. Scaled
	// rates are capped to stay probabilities (see [ErrorRates]).
	ErrorScale float64
	// TwinRate is the share of people who are one of a twin pair; zero
	// means DefaultTwinRate, negative means none.
	TwinRate float64
	// LookalikeRate is the share of people who share given name, family
	// name, sex and birth date with an unrelated person; zero means
	// DefaultLookalikeRate, negative means none.
	LookalikeRate float64
}

// SourceProfile describes how one source holds people: how many of them it
// knows, how often it registers someone twice, how it formats values and
// how often each error happens.
type SourceProfile struct {
	// Presence is the probability that a person has a record in the source.
	Presence float64
	// Duplicate is the probability that a person present in the source has
	// a second, independent registration there.
	Duplicate float64
	// UpperCase is the probability that a record's names and address are
	// in capitals.
	UpperCase float64
	// SpacedNHS is the probability that an NHS number is written 3-3-4 with
	// spaces instead of ten digits.
	SpacedNHS float64
	// Errors are the per-record error rates.
	Errors ErrorRates
}

// ErrorRates are per-record probabilities of each error. Errors touching
// the same field exclude each other (a birth date is transposed or off by
// a year, not both), so each group must sum to at most 1: {PlaceholderName}
// then {MissingGiven, Nickname, GivenTypo}, {MissingFamily, FamilyChange,
// FamilyTypo}, {PlaceholderDate, MissingDate, DateTransposed, YearOffByOne},
// {MissingNHS, NHSTypo, NHSOther}, {MissingAddress, Moved}. A rate that
// needs a condition applies only to the records that meet it: Nickname to
// given names that have an alias, FamilyChange to women aged 18 or over,
// NameSwap to records with both names present, DateTransposed to dates
// whose day is at most 12 and differs from the month, MissingPhone and
// MissingEmail to people who have one. Name errors apply only to records
// that are not placeholders.
type ErrorRates struct {
	// GivenTypo is one keyboard typo (insert, delete, substitute or
	// transpose) in the given name.
	GivenTypo float64
	// FamilyTypo is one keyboard typo in the family name.
	FamilyTypo float64
	// Nickname replaces the given name by an alias (Robert → Bob,
	// Mohammed → Muhammad).
	Nickname float64
	// NameSwap exchanges given and family names.
	NameSwap float64
	// FamilyChange replaces the family name by a new one (marriage) or
	// hyphenates it with a new one.
	FamilyChange float64
	// DateTransposed swaps day and month of the birth date.
	DateTransposed float64
	// YearOffByOne moves the birth year one year up or down.
	YearOffByOne float64
	// PlaceholderName records the person as UNKNOWN UNKNOWN (an adult) or
	// BABY <family> (an infant under one).
	PlaceholderName float64
	// PlaceholderDate records the birth date as 1900-01-01.
	PlaceholderDate float64
	// MissingNHS leaves the NHS number empty.
	MissingNHS float64
	// NHSTypo mistypes one digit or transposes two adjacent digits of the
	// NHS number; the result always fails the check digit.
	NHSTypo float64
	// NHSOther records the valid NHS number of another person.
	NHSOther float64
	// MissingGiven leaves the given name empty.
	MissingGiven float64
	// MissingFamily leaves the family name empty.
	MissingFamily float64
	// MissingDate leaves the birth date empty.
	MissingDate float64
	// MissingSex leaves sex empty.
	MissingSex float64
	// MissingAddress leaves address and postcode empty.
	MissingAddress float64
	// Moved records a different address and postcode (a house move the
	// other sources have not seen).
	Moved float64
	// MissingPhone leaves the phone empty.
	MissingPhone float64
	// MissingEmail leaves the email empty.
	MissingEmail float64
}

// DefaultProfile returns the documented default profile for a source name:
// "gp" (a general practice register: nearly everyone, clean), "hospital"
// (fewer people, more errors and placeholders) and "community" (few
// people, many missing identifiers). Any other name gets a profile between
// hospital and community with presence 0.5.
func DefaultProfile(source string) SourceProfile {
	switch source {
	case "gp":
		return SourceProfile{Presence: 0.95, Duplicate: 0.015, UpperCase: 0.1, SpacedNHS: 0.1, Errors: ErrorRates{
			GivenTypo: 0.01, FamilyTypo: 0.01, Nickname: 0.02, NameSwap: 0.002, FamilyChange: 0.03,
			DateTransposed: 0.003, YearOffByOne: 0.002, PlaceholderName: 0.0005, PlaceholderDate: 0.0005,
			MissingNHS: 0.02, NHSTypo: 0.003, NHSOther: 0.001,
			MissingGiven: 0.001, MissingFamily: 0.0005, MissingDate: 0.001, MissingSex: 0.002,
			MissingAddress: 0.01, Moved: 0.08, MissingPhone: 0.15, MissingEmail: 0.3,
		}}
	case "hospital":
		return SourceProfile{Presence: 0.45, Duplicate: 0.04, UpperCase: 0.6, SpacedNHS: 0.4, Errors: ErrorRates{
			GivenTypo: 0.03, FamilyTypo: 0.03, Nickname: 0.05, NameSwap: 0.01, FamilyChange: 0.06,
			DateTransposed: 0.01, YearOffByOne: 0.008, PlaceholderName: 0.005, PlaceholderDate: 0.004,
			MissingNHS: 0.10, NHSTypo: 0.01, NHSOther: 0.003,
			MissingGiven: 0.005, MissingFamily: 0.003, MissingDate: 0.003, MissingSex: 0.01,
			MissingAddress: 0.03, Moved: 0.15, MissingPhone: 0.25, MissingEmail: 0.6,
		}}
	case "community":
		return SourceProfile{Presence: 0.20, Duplicate: 0.03, UpperCase: 0.2, SpacedNHS: 0.3, Errors: ErrorRates{
			GivenTypo: 0.02, FamilyTypo: 0.02, Nickname: 0.08, NameSwap: 0.005, FamilyChange: 0.05,
			DateTransposed: 0.006, YearOffByOne: 0.005, PlaceholderName: 0.002, PlaceholderDate: 0.002,
			MissingNHS: 0.15, NHSTypo: 0.006, NHSOther: 0.002,
			MissingGiven: 0.003, MissingFamily: 0.002, MissingDate: 0.004, MissingSex: 0.02,
			MissingAddress: 0.05, Moved: 0.20, MissingPhone: 0.2, MissingEmail: 0.5,
		}}
	}
	return SourceProfile{Presence: 0.5, Duplicate: 0.03, UpperCase: 0.3, SpacedNHS: 0.3, Errors: ErrorRates{
		GivenTypo: 0.025, FamilyTypo: 0.025, Nickname: 0.06, NameSwap: 0.007, FamilyChange: 0.05,
		DateTransposed: 0.008, YearOffByOne: 0.006, PlaceholderName: 0.003, PlaceholderDate: 0.003,
		MissingNHS: 0.12, NHSTypo: 0.008, NHSOther: 0.0025,
		MissingGiven: 0.004, MissingFamily: 0.0025, MissingDate: 0.0035, MissingSex: 0.015,
		MissingAddress: 0.04, Moved: 0.17, MissingPhone: 0.22, MissingEmail: 0.55,
	}}
}

// scaled returns e with every rate multiplied by k. When k is not 1 the
// results are capped so they stay probabilities: each exclusive group (a
// lone rate being a group of one) is shrunk in proportion when it would
// sum above 1.
func (e ErrorRates) scaled(k float64) ErrorRates {
	if k == 1 {
		return e
	}
	s := e.multiplied(k)
	for _, g := range s.groups() {
		sum := 0.0
		for _, v := range g {
			sum += *v
		}
		if sum > 1 { // a single rate is capped at 1 the same way
			for _, v := range g {
				*v /= sum
			}
		}
	}
	return s
}

// groups returns pointers to the rates of each exclusive group, and to
// each rate that stands alone as a group of one.
func (e *ErrorRates) groups() [][]*float64 {
	return [][]*float64{
		{&e.NameSwap}, {&e.PlaceholderName}, {&e.MissingSex}, {&e.MissingPhone}, {&e.MissingEmail},
		{&e.MissingGiven, &e.Nickname, &e.GivenTypo},
		{&e.MissingFamily, &e.FamilyChange, &e.FamilyTypo},
		{&e.PlaceholderDate, &e.MissingDate, &e.DateTransposed, &e.YearOffByOne},
		{&e.MissingNHS, &e.NHSTypo, &e.NHSOther},
		{&e.MissingAddress, &e.Moved},
	}
}

func (e ErrorRates) multiplied(k float64) ErrorRates {
	return ErrorRates{
		GivenTypo: e.GivenTypo * k, FamilyTypo: e.FamilyTypo * k, Nickname: e.Nickname * k,
		NameSwap: e.NameSwap * k, FamilyChange: e.FamilyChange * k, DateTransposed: e.DateTransposed * k,
		YearOffByOne: e.YearOffByOne * k, PlaceholderName: e.PlaceholderName * k, PlaceholderDate: e.PlaceholderDate * k,
		MissingNHS: e.MissingNHS * k, NHSTypo: e.NHSTypo * k, NHSOther: e.NHSOther * k,
		MissingGiven: e.MissingGiven * k, MissingFamily: e.MissingFamily * k, MissingDate: e.MissingDate * k,
		MissingSex: e.MissingSex * k, MissingAddress: e.MissingAddress * k, Moved: e.Moved * k,
		MissingPhone: e.MissingPhone * k, MissingEmail: e.MissingEmail * k,
	}
}

// check validates the rates: each in [0,1], each exclusive group summing
// to at most 1.
func (e ErrorRates) check() error {
	for _, g := range e.groups() {
		sum := 0.0
		for _, v := range g {
			if *v < 0 || *v > 1 {
				return fmt.Errorf("%w: error rate %g outside [0,1]", ErrBadOptions, *v)
			}
			sum += *v
		}
		if sum > 1+1e-9 {
			return fmt.Errorf("%w: exclusive error rates sum to %g > 1", ErrBadOptions, sum)
		}
	}
	return nil
}

// SynthStats summarises a generated cohort.
type SynthStats struct {
	// People is the number of distinct people generated (some have no
	// record in any source).
	People int
	// Records counts records per source.
	Records map[string]int
	// TotalRecords is the number of records over all sources.
	TotalRecords int
	// PeopleWithRecords counts people with at least one record.
	PeopleWithRecords int
	// TruePairs is the number of record pairs that belong to one person,
	// within and across sources.
	TruePairs int64
	// CrossSourcePairs is the part of TruePairs whose two records are from
	// different sources.
	CrossSourcePairs int64
	// Files lists the written files, sources first, then truth.csv.
	Files []string
}

// resolved is SynthOptions with defaults applied.
type resolved struct {
	people        int
	sources       []string
	profiles      []SourceProfile
	seed          uint64
	out           string
	twinRate      float64
	lookalikeRate float64
}

func (o SynthOptions) resolve() (resolved, error) {
	r := resolved{people: o.People, sources: o.Sources, seed: o.Seed, out: o.Out, twinRate: o.TwinRate, lookalikeRate: o.LookalikeRate}
	if r.people == 0 {
		r.people = DefaultPeople
	}
	if r.people < 0 || r.people > nhsCapacity {
		return r, fmt.Errorf("%w: people %d outside 1..%d", ErrBadOptions, r.people, nhsCapacity)
	}
	if len(r.sources) == 0 {
		r.sources = DefaultSources
	}
	if r.out == "" {
		r.out = DefaultOut
	}
	switch {
	case r.twinRate == 0:
		r.twinRate = DefaultTwinRate
	case r.twinRate < 0:
		r.twinRate = 0
	}
	switch {
	case r.lookalikeRate == 0:
		r.lookalikeRate = DefaultLookalikeRate
	case r.lookalikeRate < 0:
		r.lookalikeRate = 0
	}
	if r.twinRate > 1 || r.lookalikeRate > 1 {
		return r, fmt.Errorf("%w: twin or lookalike rate above 1", ErrBadOptions)
	}
	scale := o.ErrorScale
	switch {
	case scale == 0:
		scale = 1
	case scale < 0:
		scale = 0
	}
	seen := map[string]bool{}
	for _, s := range r.sources {
		if !validSourceName(s) || s == "truth" {
			return r, fmt.Errorf("%w: source name %q (letters, digits, '-' and '_' only; not \"truth\")", ErrBadOptions, s)
		}
		if seen[s] {
			return r, fmt.Errorf("%w: source %q listed twice", ErrBadOptions, s)
		}
		seen[s] = true
		p, ok := o.Profiles[s]
		if !ok {
			p = DefaultProfile(s)
		}
		p.Errors = p.Errors.scaled(scale)
		for _, v := range []float64{p.Presence, p.Duplicate, p.UpperCase, p.SpacedNHS} {
			if v < 0 || v > 1 {
				return r, fmt.Errorf("%w: source %q: probability %g outside [0,1]", ErrBadOptions, s, v)
			}
		}
		if err := p.Errors.check(); err != nil {
			return r, fmt.Errorf("source %q: %w", s, err)
		}
		r.profiles = append(r.profiles, p)
	}
	return r, nil
}

func validSourceName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// Synth generates a synthetic cohort as described in the package
// documentation: one CSV file per source in opts.Out and truth.csv mapping
// every record to its person. It streams person by person, so memory does
// not grow with opts.People; the same options give byte-identical files.
// It stops with ctx.Err() when ctx is cancelled, leaving partial files.
func Synth(ctx context.Context, opts SynthOptions) (SynthStats, error) {
	r, err := opts.resolve()
	if err != nil {
		return SynthStats{}, err
	}
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return SynthStats{}, fmt.Errorf("benchmarks: synth: %w", err)
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	open := func(name string) (*bufio.Writer, error) {
		f, err := os.Create(filepath.Join(r.out, name))
		if err != nil {
			return nil, fmt.Errorf("benchmarks: synth: %w", err)
		}
		files = append(files, f)
		return bufio.NewWriterSize(f, 1<<16), nil
	}
	ws := make([]io.Writer, 0, len(r.sources))
	var bufs []*bufio.Writer
	stats := SynthStats{Records: map[string]int{}}
	for _, s := range r.sources {
		bw, err := open(s + ".csv")
		if err != nil {
			return stats, err
		}
		ws = append(ws, bw)
		bufs = append(bufs, bw)
		stats.Files = append(stats.Files, filepath.Join(r.out, s+".csv"))
	}
	tbw, err := open("truth.csv")
	if err != nil {
		return stats, err
	}
	bufs = append(bufs, tbw)
	stats.Files = append(stats.Files, filepath.Join(r.out, "truth.csv"))

	g, err := newGenerator(r)
	if err != nil {
		return stats, err
	}
	if err := g.run(ctx, ws, tbw, &stats); err != nil {
		return stats, err
	}
	for _, b := range bufs {
		if err := b.Flush(); err != nil {
			return stats, fmt.Errorf("benchmarks: synth: %w", err)
		}
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			return stats, fmt.Errorf("benchmarks: synth: %w", err)
		}
	}
	files = nil
	return stats, nil
}

// sourcePrefix is the record id prefix of a source: up to three letters
// or digits of its name in capitals ("gp" → "GP", "hospital" → "HOS").
func sourcePrefix(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		if b.Len() == 3 {
			break
		}
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "R"
	}
	return b.String()
}
