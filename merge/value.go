package merge

import (
	"math"
	"strings"
)

// sameValue reports whether two entries of one concept, from different
// sources and close in time, agree on their values; if not, why. A value one
// side did not report is no disagreement, but a number against a text-only
// value is. It reads the copies of the values in Merger.vals, not the
// entries.
func (m *Merger) sameValue(a, b *atom, concept int32) (bool, Reason) {
	va, vb := &m.vals[a.ki], &m.vals[b.ki]
	if a.cat == medicationIndex {
		// For medications the copied quantity is the dose.
		if ok, unit := m.sameQty(va.qtyPtr(), vb.qtyPtr(), concept); !ok {
			if unit {
				return false, ReasonUnit
			}
			return false, ReasonDose
		}
		return true, ""
	}
	if ok, unit := m.sameQty(va.qtyPtr(), vb.qtyPtr(), concept); !ok {
		if unit {
			return false, ReasonUnit
		}
		return false, ReasonValue
	}
	switch {
	case va.vtext != "" && vb.vtext != "":
		if !strings.EqualFold(strings.TrimSpace(va.vtext), strings.TrimSpace(vb.vtext)) {
			return false, ReasonValue
		}
	case va.hasQty && !vb.hasQty && vb.vtext != "",
		vb.hasQty && !va.hasQty && va.vtext != "":
		return false, ReasonValue
	}
	return true, ""
}

// qtyPtr returns the copy of the quantity (the dose of a medication, else
// the value), or nil.
func (v *atomVal) qtyPtr() *Quantity {
	if !v.hasQty {
		return nil
	}
	return &v.qty
}

// sameQty compares two quantities after unit conversion. unit is true when
// they differ because their units do not convert.
func (m *Merger) sameQty(x, y *Quantity, concept int32) (same, unit bool) {
	if x == nil || y == nil {
		return true, false
	}
	if x.Comparator != y.Comparator {
		return false, false
	}
	vx, vy := x.Value, y.Value
	// Each side was rounded to the precision it reports; two values agree
	// when they differ by no more than that rounding (plus RelTolerance).
	hx, hy := halfULP(x.Value), halfULP(y.Value)
	if x.Unit == y.Unit {
		return m.closeTo(vx, vy, max(hx, hy)), false
	}
	ux, okx := m.rules.units[x.Unit]
	uy, oky := m.rules.units[y.Unit]
	if !okx || !oky {
		return false, true
	}
	vx, vy = vx*ux.factor+ux.offset, vy*uy.factor+uy.offset
	hx, hy = hx*ux.factor, hy*uy.factor
	if ux.dim != uy.dim {
		var mm float64
		if concept >= 0 && int(concept) < len(m.rules.molar) {
			mm = m.rules.molar[concept]
		}
		switch {
		case mm == 0:
			return false, true
		case ux.dim == DimMassConcentration && uy.dim == DimSubstanceConcentration:
			vx, hx = vx/mm, hx/mm
		case ux.dim == DimSubstanceConcentration && uy.dim == DimMassConcentration:
			vy, hy = vy/mm, hy/mm
		default:
			return false, true
		}
	}
	return m.closeTo(vx, vy, hx+hy), false
}

// closeTo reports whether a and b differ by at most the rounding allowance
// (capped at MaxRounding of the larger magnitude, because a float does not
// keep trailing zeros: 2.0 mmol/L arrives as 2) plus RelTolerance.
func (m *Merger) closeTo(a, b, rounding float64) bool {
	d := math.Abs(a - b)
	mag := max(math.Abs(a), math.Abs(b))
	return d <= min(rounding, m.rules.maxRound*mag)+m.rules.relTol*mag+1e-12
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
