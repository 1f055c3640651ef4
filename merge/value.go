package merge

import (
	"math"
	"slices"
	"strings"
)

// Concept returns the id of the rules' concept that one of codes names (the
// first code in one wins), or "": a summary that groups repeated results (a
// trend chart) thus groups exactly the codes the merge treats as one test.
func (e *Engine) Concept(codes []Code) string {
	for _, cd := range codes {
		if i, ok := e.rules.lookup(cd.System, cd.Code); ok {
			return e.rules.ids[i]
		}
	}
	return ""
}

// Convert returns q's value in unit, converting within a dimension, and
// between mass and substance concentration through the molar mass of
// concept (an id as [Engine.Concept] returns, or ""). ok is false when the
// units do not convert.
func (e *Engine) Convert(q Quantity, unit, concept string) (value float64, ok bool) {
	var mm float64
	if i := slices.Index(e.rules.ids, concept); i >= 0 { // ids are never empty
		mm = e.rules.molar[i]
	}
	value, _, ok = e.rules.convert(q.Value, q.Unit, unit, mm)
	return value, ok
}

// sameValue is the rules' verdict on two entries of one concept, from
// different sources and close in time: the same fact when their values
// agree, else a conflict saying why. A value one side did not report is no
// disagreement, but a number against a text-only value is. For medications
// the structured doses are compared, not the values.
func (c *compiled) sameValue(a, b *Entry, concept int32) Verdict {
	qa, qb, differ := a.Value, b.Value, ReasonValue
	if a.Category == CategoryMedication {
		qa, qb, differ = a.Dose, b.Dose, ReasonDose
	}
	if ok, unit := c.sameQty(qa, qb, concept); !ok {
		if unit {
			return Verdict{Conflict: ReasonUnit}
		}
		return Verdict{Conflict: differ}
	}
	if differ == ReasonDose {
		return Verdict{Same: true}
	}
	switch {
	case a.ValueText != "" && b.ValueText != "":
		if !strings.EqualFold(strings.TrimSpace(a.ValueText), strings.TrimSpace(b.ValueText)) {
			return Verdict{Conflict: ReasonValue}
		}
	case qa != nil && qb == nil && b.ValueText != "", qb != nil && qa == nil && a.ValueText != "":
		return Verdict{Conflict: ReasonValue}
	}
	return Verdict{Same: true}
}

// sameQty compares two quantities after unit conversion. unit is true when
// they differ because their units do not convert.
func (c *compiled) sameQty(x, y *Quantity, concept int32) (same, unit bool) {
	if x == nil || y == nil {
		return true, false
	}
	if x.Comparator != y.Comparator {
		return false, false
	}
	var mm float64
	if concept >= 0 && int(concept) < len(c.molar) {
		mm = c.molar[concept]
	}
	vy, scale, ok := c.convert(y.Value, y.Unit, x.Unit, mm)
	if !ok {
		return false, true
	}
	// Each side was rounded to the precision it reports; two values agree
	// when they differ by no more than that rounding (plus RelTolerance).
	hx, hy := halfULP(x.Value), halfULP(y.Value)*scale
	if x.Unit == y.Unit {
		return c.closeTo(x.Value, vy, max(hx, hy)), false
	}
	return c.closeTo(x.Value, vy, hx+hy), false
}

// convert returns v, written in unit from, in unit to, and the factor by
// which the conversion scales a difference. Units convert within a
// dimension, and mass and substance concentration through mm, a molar mass,
// when it is positive; ok is false otherwise.
func (c *compiled) convert(v float64, from, to string, mm float64) (out, scale float64, ok bool) {
	if from == to {
		return v, 1, true
	}
	f, okf := c.units[from]
	t, okt := c.units[to]
	if !okf || !okt {
		return 0, 0, false
	}
	base, scale := v*f.factor+f.offset, f.factor
	switch {
	case f.dim == t.dim:
	case mm > 0 && f.dim == DimMassConcentration && t.dim == DimSubstanceConcentration:
		base, scale = base/mm, scale/mm
	case mm > 0 && f.dim == DimSubstanceConcentration && t.dim == DimMassConcentration:
		base, scale = base*mm, scale*mm
	default:
		return 0, 0, false
	}
	return (base - t.offset) / t.factor, scale / t.factor, true
}

// closeTo reports whether a and b differ by at most the rounding allowance
// (capped at MaxRounding of the larger magnitude, because a float does not
// keep trailing zeros: 2.0 mmol/L arrives as 2) plus RelTolerance.
func (c *compiled) closeTo(a, b, rounding float64) bool {
	d := math.Abs(a - b)
	mag := max(math.Abs(a), math.Abs(b))
	return d <= min(rounding, c.maxRound*mag)+c.relTol*mag+1e-12
}

// halfULP is half a unit in the last decimal place v is written with (its
// shortest decimal form): 13.5 gives 0.05, 135 gives 0.5.
func halfULP(v float64) float64 {
	a := math.Abs(v)
	if a >= 1e15 || a == 0 || math.IsNaN(a) {
		return 0.5
	}
	p := 1.0
	for range 12 {
		x := a * p
		if math.Abs(x-math.Round(x)) <= 1e-9*x {
			return 0.5 / p
		}
		p *= 10
	}
	return 0.5 / p
}
