package merge

import (
	"math"
	"strings"
)

// sameValue reports whether two entries of one concept, from different
// sources and close in time, agree on their values; if not, why. A value one
// side did not report is no disagreement, but a number against a text-only
// value is.
func (m *Merger) sameValue(a, b *Entry, concept int32) (bool, Reason) {
	if a.Category == CategoryMedication {
		if ok, unit := m.sameQty(a.Dose, b.Dose, concept); !ok {
			if unit {
				return false, ReasonUnit
			}
			return false, ReasonDose
		}
		return true, ""
	}
	if ok, unit := m.sameQty(a.Value, b.Value, concept); !ok {
		if unit {
			return false, ReasonUnit
		}
		return false, ReasonValue
	}
	switch {
	case a.ValueText != "" && b.ValueText != "":
		if !strings.EqualFold(strings.TrimSpace(a.ValueText), strings.TrimSpace(b.ValueText)) {
			return false, ReasonValue
		}
	case a.Value != nil && b.Value == nil && b.ValueText != "",
		b.Value != nil && a.Value == nil && a.ValueText != "":
		return false, ReasonValue
	}
	return true, ""
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
	if x.Unit != y.Unit {
		ux, okx := m.rules.units[x.Unit]
		uy, oky := m.rules.units[y.Unit]
		if !okx || !oky {
			return false, true
		}
		vx, vy = vx*ux.factor+ux.offset, vy*uy.factor+uy.offset
		if ux.dim != uy.dim {
			var mm float64
			if int(concept) < len(m.rules.molar) {
				mm = m.rules.molar[concept]
			}
			switch {
			case mm == 0:
				return false, true
			case ux.dim == DimMassConcentration && uy.dim == DimSubstanceConcentration:
				vx /= mm
			case ux.dim == DimSubstanceConcentration && uy.dim == DimMassConcentration:
				vy /= mm
			default:
				return false, true
			}
		}
	}
	return closeTo(vx, vy, m.rules.relTol), false
}

func closeTo(a, b, rel float64) bool {
	d := math.Abs(a - b)
	return d <= rel*max(math.Abs(a), math.Abs(b)) || d < 1e-12
}
