package match

// Constraint is a reason a pair must not be linked automatically whatever
// its score: a hard rule from the failure-mode corpus, not evidence.
type Constraint uint8

// Constraints.
const (
	// ConstraintNone means the pair may link on its score.
	ConstraintNone Constraint = iota
	// ConstraintNHS means the records hold two different valid NHS
	// numbers: never the same person, never one cluster.
	ConstraintNHS
	// ConstraintTwins means the records share a birth date but their
	// given names disagree outright (not a typo, nickname, initial or
	// swap) and no identifier agrees: the pattern of twins and multiples,
	// which may at most be a possible match for a person to review.
	ConstraintTwins
	// ConstraintNameDOBOnly means nothing but name, birth date, sex and
	// area (town, state) agrees: matching never auto-links on name and
	// birth date alone. A town or county is shared by thousands and does
	// not tell namesakes apart.
	ConstraintNameDOBOnly
	// ConstraintSuffix means both names carry a generational suffix and
	// the suffixes differ (Jr and Sr): a discriminator, not noise.
	ConstraintSuffix
)

// String names the constraint for explanations.
func (c Constraint) String() string {
	switch c {
	case ConstraintNHS:
		return "different valid NHS numbers"
	case ConstraintTwins:
		return "possible twins: same birth date, different given names"
	case ConstraintNameDOBOnly:
		return "only name, birth date and area agree"
	case ConstraintSuffix:
		return "different generational suffixes"
	}
	return ""
}

// Constraint returns the hard constraint, if any, that forbids linking a
// and b automatically. [Link] never puts a constrained pair's records in
// one cluster through that pair; an index should at most offer such a pair
// as a possible match.
func (s *Scorer) Constraint(a, b *Prepared) Constraint {
	return s.constraint(s.pattern(a, b), a, b)
}

// isDemographic reports whether f is a name, birth date or sex field: the
// fields that alone never justify a link.
func isDemographic(f Field) bool {
	return f == FieldGiven || f == FieldMiddle || f == FieldFamily || f == FieldBirthDate || f == FieldSex
}

// isArea reports whether f names an area many people share (town, state):
// agreement there corroborates no one.
func isArea(f Field) bool { return f == FieldTown || f == FieldState }

func (s *Scorer) constraint(pat uint64, a, b *Prepared) Constraint {
	if a.nhs != 0 && b.nhs != 0 && a.nhs != b.nhs {
		return ConstraintNHS
	}
	if a.suffix != 0 && b.suffix != 0 && a.suffix != b.suffix {
		return ConstraintSuffix
	}
	dobExact, givenElse, givenNull, corroborated, idAgrees := false, false, true, false, false
	for c := range s.comps {
		cc := &s.comps[c]
		l := int(pat >> (4 * c) & 15)
		if l == 0 {
			continue
		}
		switch cc.field {
		case FieldBirthDate:
			dobExact = cc.levels[l].kind == LevelExact
		case FieldGiven:
			givenElse, givenNull = cc.levels[l].kind == LevelElse, false
		}
		// An e-mail corroborates only at its exact level, which needs more
		// than the names in the address (see emailNameOnly).
		nameLike := cc.field == FieldEmail && cc.levels[l].kind != LevelExact
		if !isDemographic(cc.field) && !isArea(cc.field) && !nameLike && s.levelWeight(c, l, pat) > 0 {
			corroborated = true
			if cc.field == FieldNHSNumber || cc.field >= FieldIdentifier || cc.field == FieldEmail {
				idAgrees = true // personal: twins do not share it
			}
		}
	}
	// A missing given name hides whether the pair are twins: the rest of
	// a household's record (address, phone, family name) is shared.
	if dobExact && (givenElse || givenNull) && !idAgrees && !s.model.NoTwinGuard {
		return ConstraintTwins
	}
	if !corroborated {
		return ConstraintNameDOBOnly
	}
	return ConstraintNone
}
