package match

import (
	"fmt"
	"strings"
)

// blockPart is one component of a blocking key.
type blockPart uint8

const (
	bpField blockPart = iota
	bpGivenPhonetic
	bpFamilyPhonetic
	bpGivenInitial
	bpBirthYear
	bpDistrict
	bpNamePair
)

type compiledRule struct {
	name  string
	seed  uint64
	parts []blockPart
	field []Field
}

func compileRule(r BlockingRule, p *preparer) (compiledRule, error) {
	cr := compiledRule{name: r.Name, seed: hashString("carelens-block:" + r.Name)}
	for _, k := range r.Keys {
		switch k {
		case "given_phonetic":
			cr.parts, cr.field = append(cr.parts, bpGivenPhonetic), append(cr.field, FieldGiven)
		case "family_phonetic":
			cr.parts, cr.field = append(cr.parts, bpFamilyPhonetic), append(cr.field, FieldFamily)
		case "given_initial":
			cr.parts, cr.field = append(cr.parts, bpGivenInitial), append(cr.field, FieldGiven)
		case "birth_year":
			cr.parts, cr.field = append(cr.parts, bpBirthYear), append(cr.field, FieldBirthDate)
		case "postcode_district":
			cr.parts, cr.field = append(cr.parts, bpDistrict), append(cr.field, FieldPostcode)
		case "name_pair":
			cr.parts, cr.field = append(cr.parts, bpNamePair), append(cr.field, FieldGiven)
		default:
			f, sys, err := parseField(k)
			if err != nil {
				return cr, fmt.Errorf("match: blocking rule %s: %w", r.Name, err)
			}
			if f == FieldIdentifier {
				slot := p.identifierSlot(sys)
				if slot < 0 {
					cr.parts = nil // never fires
					return cr, nil
				}
				f += Field(slot)
			}
			cr.parts, cr.field = append(cr.parts, bpField), append(cr.field, f)
		}
	}
	return cr, nil
}

func mix(h, x uint64) uint64 {
	h ^= x + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// ruleKey is one blocking key of a record: the rule that made it and a
// 64-bit hash of the agreeing values. Hashes are stable across processes
// and Preparers (they hash normalised values, not vocabulary ids), so an
// index may persist them. Distinct values may rarely share a hash; that
// only adds a candidate.
type ruleKey struct {
	// Rule is the index of the rule in the model's Blocking list.
	Rule int
	// Hash identifies the block.
	Hash uint64
}

// AppendBlockingKeys appends the blocking keys of a to dst, one per rule
// for which a has every key value. Missing, placeholder and shared values
// make no key.
func (s *Scorer) appendBlockingKeys(dst []ruleKey, a *Prepared) []ruleKey {
	for i := range s.blocks {
		if h := s.blockKey(i, a); h != 0 {
			dst = append(dst, ruleKey{Rule: i, Hash: h})
		}
	}
	return dst
}

// BlockingRuleCount returns the number of blocking rules.
func (s *Scorer) blockingRuleCount() int { return len(s.blocks) }

// blockKey returns rule i's key for a, or 0 when a has none.
func (s *Scorer) blockKey(i int, a *Prepared) uint64 {
	r := &s.blocks[i]
	if len(r.parts) == 0 {
		return 0
	}
	h := r.seed
	for k, part := range r.parts {
		f := r.field[k]
		var x uint64
		switch part {
		case bpField:
			switch f {
			case FieldBirthDate:
				if a.dob == 0 || a.dob%100 == 0 {
					return 0
				}
				x = uint64(a.dob)
			case FieldSex:
				if a.sex == 0 {
					return 0
				}
				x = uint64(a.sex)
			case FieldNHSNumber:
				if a.nhs == 0 {
					return 0
				}
				x = a.nhs
			default:
				id := a.v[f]
				v := &s.views[f]
				if id == 0 || int(id) >= len(v.hash) {
					return 0
				}
				if (f == FieldPhone || f == FieldEmail || f >= FieldIdentifier) && s.isShared(f, id) {
					return 0
				}
				x = v.hash[id]
			}
		case bpGivenPhonetic, bpFamilyPhonetic:
			id := a.v[f]
			v := &s.views[f]
			if id == 0 || int(id) >= len(v.phon) {
				return 0
			}
			code := v.phon[id]
			if code == 0 {
				return 0
			}
			x = v.codeHash[code]
		case bpGivenInitial:
			id := a.v[f]
			v := &s.views[f]
			if id == 0 || int(id) >= len(v.strs) {
				return 0
			}
			x = uint64(v.strs[id][0])
		case bpBirthYear:
			if a.dob == 0 {
				return 0
			}
			x = uint64(a.dob / 10000)
		case bpDistrict:
			id := a.v[FieldPostcode]
			v := &s.views[FieldPostcode]
			if id == 0 || int(id) >= len(v.strs) {
				return 0
			}
			d := postcodeDistrict(v.strs[id])
			if d == "" {
				return 0
			}
			x = hashString(d)
		case bpNamePair:
			g, fam := a.v[FieldGiven], a.v[FieldFamily]
			v := &s.views[FieldGiven]
			if g == 0 || fam == 0 || int(g) >= len(v.hash) || int(fam) >= len(v.hash) {
				return 0
			}
			hg, hf := v.hash[g], v.hash[fam]
			if strings.Compare(v.strs[g], v.strs[fam]) > 0 {
				hg, hf = hf, hg
			}
			x = mix(hg, hf)
		}
		h = mix(h, x)
	}
	if h == 0 {
		h = 1
	}
	return h
}
