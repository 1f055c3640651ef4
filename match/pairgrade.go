package match

// GradePair grades a pair of records for automatic use, by the same safety
// rules the identity index applies before it links ([Index.Add]): two
// different valid NHS numbers are certainly not the same person whatever
// they score, and a pair with no evidence beyond name and birth date (the
// same valid NHS number or identifier, or, with neither name nor birth
// date a placeholder, the same postcode, phone, e-mail or first address
// line) is at most possible, because twins and namesakes share name and
// birth date. Otherwise the grade is the explanation's own (which already
// accounts for the scorer's hard constraints).
//
// Birth dates are read with the default [PrepareOptions] (day first,
// 1880 to today); an index reads them with its own
// [IndexOptions.Prepare].
//
// Consumers that find a patient across sources at view time (the viewer)
// grade candidates with it, so that the index and the viewer cannot drift
// apart on what may be used without a person's confirmation.
func GradePair(e Explanation, a, b *Record) Grade {
	ea, eb := newEvidence(a, nil), newEvidence(b, nil)
	switch {
	case nhsConflict(&ea, &eb):
		return GradeCertainlyNot
	case e.Grade == GradeCertainlyNot:
		return GradeCertainlyNot
	case !strongEvidence(&ea, &eb) && (e.Grade == GradeCertain || e.Grade == GradeProbable):
		return GradePossible
	}
	return e.Grade
}
