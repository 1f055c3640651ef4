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
	// ConstraintTwins means the records share a birth date (or dates one
	// typo apart: one digit, day and month transposed, or one is missing)
	// but their given names disagree outright (not a typo, nickname,
	// initial or swap) or one is missing, and no identifier agrees: the
	// pattern of twins, siblings and other household members, and
	// multiples, which may at most be a possible match for a person to
	// review. [Link] also never joins two clusters when any record of one
	// and any of the other show this pattern with the given names (or,
	// with one missing, the sexes) disagreeing.
	ConstraintTwins
	// ConstraintNameDOBOnly means nothing but name, birth date, sex and
	// area (town, state) agrees: matching never auto-links on name and
	// birth date alone. A town or county is shared by thousands and does
	// not tell namesakes apart.
	ConstraintNameDOBOnly
	// ConstraintSuffix means both names carry a generational suffix and
	// the suffixes differ (Jr and Sr): a discriminator, not noise.
	ConstraintSuffix
	// ConstraintHousehold means no identifier or e-mail agrees and the
	// birth dates disagree outright, or they are compared, not one typo
	// apart, and the given names disagree (or are loosely alike, or one is
	// missing), or a birth date is missing and no phone agrees, or the
	// birth dates differ at all and the phones disagree: what else
	// agrees (family name, address, a landline) is what members of one
	// household share, a parent and child of one name among them. The
	// pattern cannot tell a mobile from a landline, so a shared landline
	// lifts the missing-birth-date case. Measured on benchmarks/independent
	// (see its RESULTS.md): with the twins rule's loose names, it took the
	// grid's false-merge pairs from 2,177 to 14. [Model.NoTwinGuard] turns
	// it off with the twins rule, for data whose duplicates change names
	// and birth dates wholesale (FEBRL). [Link], which sees the whole
	// file, lifts this rule and the twins rule for a record lacking the
	// birth date or given name when the file shows one person behind the
	// pair's household key (see householdEvidence).
	ConstraintHousehold
	// ConstraintBorrowedID means an identifier or e-mail agrees but the
	// birth dates and the given names disagree outright (or a given name
	// is missing): a number copied onto a relative's record (a parent's
	// NHS number on a child's), a family's shared e-mail, or an entry
	// error. The identifier outweighs everything else (+16 bits against
	// -22 for a child's given name, sex and birth date in the failure-mode
	// corpus), so without this rule it links. [Model.NoTwinGuard] turns it
	// off with the household rules.
	ConstraintBorrowedID
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
	case ConstraintHousehold:
		return "given names and birth dates disagree: only household details agree"
	case ConstraintBorrowedID:
		return "an identifier agrees but given names and birth dates disagree"
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

// minCorroboration is the least weight, in bits, at which a field beyond
// name, birth date, sex and area corroborates a pair (see
// [ConstraintNameDOBOnly]): the level must at least double the odds. A
// weight below one bit is within the error of its own estimate (m counted
// on 100 confirmed pairs is known within 45%, about half a bit, and u
// likewise), so it cannot tell a person from a namesake. With any
// positive weight counting, a house number one edit apart under a
// different postcode (+0.06 bits once m is estimated given the postcode)
// let namesakes with different addresses link: 3 false-merge pairs at
// 5,000 people of the robustness baseline, 11 of nhs-0.
const minCorroboration = 1

// minCorroborationSimilarity is the least string similarity at which a
// level corroborates a pair against [ConstraintNameDOBOnly]. On the
// 1,000,000-record cohort (BenchmarkLinkMillion's), 35 of 89 false-merge
// pairs were namesakes (same given name, birth date and sex, different
// family name and postcode) whose only corroboration was an address at
// Jaro-Winkler >= 0.75 (+2.6 bits given a different postcode); an address
// mistyped in one record stays at 0.90 or above.
const minCorroborationSimilarity = 0.9

// isLoose reports whether a level is a loose similarity: what two
// different streets of one style share ("74 Church Avenue" and "77 Beech
// Avenue" are Jaro-Winkler 0.75 apart), or two given names (Amy and
// Mary).
func isLoose(lv *compiledLevel) bool {
	return lv.kind == LevelSimilarity && lv.thr < minCorroborationSimilarity
}

// corroborates reports whether comparison cc at level lv, weighing w in
// the pair, corroborates it beyond name, birth date, sex and area (see
// [ConstraintNameDOBOnly]). An e-mail corroborates only at its exact
// level, which needs more than the names in the address (see
// emailNameOnly).
func corroborates(cc *compiledComparison, lv *compiledLevel, w float64) bool {
	nameLike := cc.field == FieldEmail && lv.kind != LevelExact
	return !isDemographic(cc.field) && !isArea(cc.field) && !nameLike && !isLoose(lv) && w >= minCorroboration
}

// isArea reports whether f names an area many people share (town, state):
// agreement there corroborates no one.
func isArea(f Field) bool { return f == FieldTown || f == FieldState }

// pairFacts is what a comparison pattern says about the fields the
// constraints look at.
type pairFacts struct {
	dobNear      bool // birth dates agree, or differ by one typo (one digit, day and month transposed)
	dobNull      bool // a birth date is missing
	dobElse      bool // birth dates disagree outright (not within a year or two digits)
	dobExact     bool // birth dates agree exactly
	givenElse    bool // given names disagree outright
	givenLoose   bool // given names only loosely alike (Amy and Mary, below minCorroborationSimilarity)
	givenNull    bool // a given name is missing
	sexElse      bool // sexes disagree
	corroborated bool // a field beyond name, birth date, sex and area agrees
	idAgrees     bool // a personal field (identifier, e-mail) agrees
	phoneAgrees  bool // the phone numbers agree
	phoneElse    bool // both records hold a phone number and they disagree
	emailElse    bool // both records hold an e-mail address and they disagree
}

func (s *Scorer) facts(pat uint64) pairFacts {
	f := pairFacts{givenNull: true, dobNull: true}
	for c := range s.comps {
		cc := &s.comps[c]
		l := int(pat >> (4 * c) & 15)
		if l == 0 {
			continue
		}
		lv := &cc.levels[l]
		loose := isLoose(lv)
		switch cc.field {
		case FieldBirthDate:
			// A typo in one twin's record leaves the birth dates one
			// digit apart or transposed: still the same day.
			f.dobNull = false
			f.dobElse = lv.kind == LevelElse
			f.dobNear = lv.kind == LevelExact || lv.kind == LevelTransposed || lv.kind == LevelDistance && lv.thr <= 1
			f.dobExact = lv.kind == LevelExact
		case FieldGiven:
			f.givenElse, f.givenLoose, f.givenNull = lv.kind == LevelElse, loose, false
		case FieldSex:
			f.sexElse = lv.kind == LevelElse
		case FieldPhone:
			f.phoneElse = lv.kind == LevelElse
		case FieldEmail:
			f.emailElse = lv.kind == LevelElse
		}
		if corroborates(cc, lv, s.levelWeight(c, l, pat)) {
			f.corroborated = true
			if cc.field == FieldNHSNumber || cc.field >= FieldIdentifier || cc.field == FieldEmail {
				f.idAgrees = true // personal: twins do not share it
			}
			f.phoneAgrees = f.phoneAgrees || cc.field == FieldPhone && lv.kind == LevelExact
		}
	}
	return f
}

// givenApart reports whether the given names fail to say "one person":
// they disagree, are only loosely alike, or one is missing.
func (f pairFacts) givenApart() bool { return f.givenElse || f.givenLoose || f.givenNull }

func (s *Scorer) constraint(pat uint64, a, b *Prepared) Constraint {
	return s.constraintKnown(pat, a, b, soleNone)
}

// constraintKnown is constraint with what the whole file says about the
// pair's household key (see [householdEvidence.sole]): a given name or
// birth date that a record lacks counts as the one the file shows for
// that key, unless the phones or e-mail addresses disagree (a twin's own
// contact details: on the nhs-0 profile, 2 of the 3 twins the rule first
// merged had different e-mail addresses).
func (s *Scorer) constraintKnown(pat uint64, a, b *Prepared, known soleField) Constraint {
	if a.nhs != 0 && b.nhs != 0 && a.nhs != b.nhs {
		return ConstraintNHS
	}
	if a.suffix != 0 && b.suffix != 0 && a.suffix != b.suffix {
		return ConstraintSuffix
	}
	f := s.facts(pat)
	switch {
	case f.phoneElse || f.emailElse:
	case known == soleGiven && f.givenNull:
		f.givenNull = false
	case known == soleDOB && f.dobNull:
		f.dobNull, f.dobNear, f.dobExact = false, true, true
	}
	// A missing given name hides whether the pair are twins: the rest of
	// a household's record (address, phone, family name) is shared. So
	// does a missing birth date: with the given names disagreeing or
	// missing, nothing personal is left to agree. Birth dates that differ
	// at all, with the phones disagreeing, leave nothing personal agreeing
	// either: a parent and child or two siblings of one name, born on the
	// same day of the year, at one address (the independent generator's
	// Mary Jones of 2000 and of 2009, 8 of its 2,000-person no-NHS
	// setting's false-merge pairs).
	if f.idAgrees && !s.model.NoTwinGuard && f.dobElse && f.givenApart() {
		return ConstraintBorrowedID
	}
	if !f.idAgrees && !s.model.NoTwinGuard {
		if (f.dobNear || f.dobNull) && f.givenApart() {
			return ConstraintTwins
		}
		if f.dobElse || !f.dobNear && !f.dobNull && f.givenApart() || f.dobNull && !f.phoneAgrees ||
			!f.dobExact && !f.dobNull && f.phoneElse {
			return ConstraintHousehold
		}
	}
	if !f.corroborated {
		return ConstraintNameDOBOnly
	}
	return ConstraintNone
}

// apart reports whether the pattern is positive evidence that a and b are
// different people, so that no cluster may hold both, whatever links
// connect them through other records: different valid NHS numbers or
// generational suffixes, or the twins pattern with the given names
// disagreeing outright (or missing, with the sexes disagreeing), or birth
// dates that differ with phones that disagree and no identifier or e-mail
// in common (two of one name in one household: the independent
// generator's 2,000-person no-NHS setting linked two sisters' six records
// through one record holding neither phone nor postcode, 8 false-merge
// pairs; with this rule, 2).
//
// A missing given name alone is not such evidence: it forbids linking the
// pair directly ([ConstraintTwins]) but not joining two clusters whose
// other records carry the evidence. Unlike [ConstraintNameDOBOnly], which
// says a pair alone proves too little, apart says the pair disproves.
func (s *Scorer) apart(pat uint64, a, b *Prepared) bool {
	if a.nhs != 0 && b.nhs != 0 && a.nhs != b.nhs || a.suffix != 0 && b.suffix != 0 && a.suffix != b.suffix {
		return true
	}
	if s.model.NoTwinGuard {
		return false
	}
	f := s.facts(pat)
	return !f.idAgrees && (f.dobNear && (f.givenElse || f.givenNull && f.sexElse) || !f.dobExact && !f.dobNull && f.phoneElse)
}
