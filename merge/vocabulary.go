package merge

import (
	"cmp"
	"slices"
)

// Vocabulary answers questions about entries from compiled [Rules]: which
// concept an entry's codes name, and what a quantity is in another unit. It
// reads the same compiled form the merge uses, so a summary that groups
// repeated results (a trend chart) groups exactly the codes the merge
// treats as one test. A Vocabulary is immutable and safe for concurrent
// use.
type Vocabulary struct{ c *compiled }

// NewVocabulary compiles rs (nil means the zero Rules).
func NewVocabulary(rs *Rules) (*Vocabulary, error) {
	c, err := compileRules(cmp.Or(rs, &Rules{}))
	if err != nil {
		return nil, err
	}
	return &Vocabulary{c: c}, nil
}

// Concept returns the id of the rules' concept that one of codes names
// (the first code that belongs to one wins), or "" when none does.
func (v *Vocabulary) Concept(codes []Code) string {
	for _, cd := range codes {
		if i, ok := v.c.lookup(cd.System, cd.Code); ok {
			return v.c.ids[i]
		}
	}
	return ""
}

// Convert returns q's value in unit, converting within a dimension, and
// between mass and substance concentration through the molar mass of
// concept (an id as [Vocabulary.Concept] returns; "" when unknown). ok is
// false when the units do not convert.
func (v *Vocabulary) Convert(q Quantity, unit, concept string) (value float64, ok bool) {
	var mm float64
	if i := slices.Index(v.c.ids, concept); i >= 0 { // ids are never empty
		mm = v.c.molar[i]
	}
	value, _, ok = v.c.convert(q.Value, q.Unit, unit, mm)
	return value, ok
}
