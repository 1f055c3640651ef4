package svgchart

import (
	"math"
	"strconv"
	"time"
)

// maxTicks bounds the ticks on either axis whatever the input.
const maxTicks = 50

// valueTicks picks a value domain [vmin, vmax] that contains [lo, hi] and
// round-numbered ticks across it, about n of them. It works for any
// finite lo <= hi, including lo == hi and values near ±MaxFloat64, where
// it falls back to ticks at lo, the midpoint and hi.
func valueTicks(lo, hi float64, n int) (vmin, vmax, step float64, ticks []float64) {
	if lo == hi {
		d := max(math.Abs(lo)*0.1, 1e-300)
		if lo == 0 {
			d = 1
		}
		lo, hi = math.Max(lo-d, -math.MaxFloat64), math.Min(hi+d, math.MaxFloat64)
	}
	half := hi/2 - lo/2 // never overflows
	step = niceStep(half / float64(n) * 2)
	vmin = math.Floor(lo/step) * step
	vmax = math.Ceil(hi/step) * step
	count := math.Round(vmax/step - vmin/step)
	if !finite(step, vmin, vmax, count) || step <= 0 || count > maxTicks || count < 1 {
		return lo, hi, half, []float64{lo, lo + half, hi}
	}
	for k := range int(count) + 1 {
		v := vmin + float64(k)*step
		if math.Abs(v) < step*1e-9 {
			v = 0 // not -0 nor 1e-17
		}
		ticks = append(ticks, v)
	}
	return vmin, vmax, step, ticks
}

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// niceStep rounds x > 0 up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 || !finite(x) {
		return x
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	switch f := x / p; {
	case f <= 1:
		return p
	case f <= 2:
		return 2 * p
	case f <= 5:
		return 5 * p
	}
	return 10 * p
}

// formatTick writes a tick value with as many decimals as its step needs.
func formatTick(v, step float64) string {
	if v == 0 {
		return "0"
	}
	if step >= 1e9 || step < 1e-6 || math.Abs(v) >= 1e12 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	dec := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// formatValue writes a result value exactly (shortest round-trip form),
// switching to exponent form only for very large or very small values.
func formatValue(v float64) string {
	if v == 0 {
		return "0"
	}
	if a := math.Abs(v); a < 1e-4 || a >= 1e12 {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// timeUnit is one candidate spacing of date ticks.
type timeUnit struct {
	hours, days, months, years int
	approx                     float64 // in days, for choosing among units
	layout                     string
}

var timeUnits = []timeUnit{
	{hours: 1, approx: 1.0 / 24, layout: "2 Jan 15:04"},
	{hours: 3, approx: 3.0 / 24, layout: "2 Jan 15:04"},
	{hours: 6, approx: 6.0 / 24, layout: "2 Jan 15:04"},
	{hours: 12, approx: 12.0 / 24, layout: "2 Jan 15:04"},
	{days: 1, approx: 1, layout: "2 Jan 2006"},
	{days: 2, approx: 2, layout: "2 Jan 2006"},
	{days: 7, approx: 7, layout: "2 Jan 2006"},
	{days: 14, approx: 14, layout: "2 Jan 2006"},
	{months: 1, approx: 30, layout: "Jan 2006"},
	{months: 3, approx: 91, layout: "Jan 2006"},
	{months: 6, approx: 182, layout: "Jan 2006"},
	{years: 1, approx: 365, layout: "2006"},
	{years: 2, approx: 2 * 365, layout: "2006"},
	{years: 5, approx: 5 * 365, layout: "2006"},
	{years: 10, approx: 10 * 365, layout: "2006"},
	{years: 20, approx: 20 * 365, layout: "2006"},
	{years: 50, approx: 50 * 365, layout: "2006"},
	{years: 100, approx: 100 * 365, layout: "2006"},
	{years: 1000, approx: 1000 * 365, layout: "2006"},
}

// timeTicks pads [t0, t1] a little, picks the finest calendar unit that
// gives at most n ticks, and returns the ticks (in loc), their layout and
// the padded domain in Unix seconds.
func timeTicks(t0, t1 time.Time, loc *time.Location, n int) (ticks []time.Time, layout string, tmin, tmax float64) {
	a, b := unixSeconds(t0), unixSeconds(t1)
	span := b - a
	pad := max(span*0.04, 1800)
	if span == 0 {
		pad = 12 * 3600
	}
	tmin, tmax = a-pad, b+pad
	total := tmax - tmin
	u := timeUnits[len(timeUnits)-1]
	for _, c := range timeUnits {
		if total/(c.approx*86400) <= float64(n) {
			u = c
			break
		}
	}
	start := time.Unix(int64(math.Floor(tmin)), 0).In(loc)
	y, mo, d := start.Date()
	var t time.Time
	switch {
	case u.hours > 0:
		t = time.Date(y, mo, d, start.Hour()/u.hours*u.hours, 0, 0, 0, loc)
	case u.days > 0:
		t = time.Date(y, mo, d, 0, 0, 0, 0, loc)
	case u.months > 0:
		t = time.Date(y, time.Month((int(mo)-1)/u.months*u.months+1), 1, 0, 0, 0, 0, loc)
	default:
		t = time.Date(floorDiv(y, u.years)*u.years, 1, 1, 0, 0, 0, 0, loc)
	}
	for k := 0; len(ticks) < maxTicks && k < 4*maxTicks; k++ {
		s := unixSeconds(t)
		if s > tmax {
			break
		}
		if s >= tmin {
			ticks = append(ticks, t)
		}
		switch {
		case u.hours > 0:
			t = t.Add(time.Duration(u.hours) * time.Hour)
		default:
			t = t.AddDate(u.years, u.months, u.days)
		}
	}
	if len(ticks) == 0 {
		ticks = []time.Time{t0.In(loc)}
		layout = "2 Jan 2006 15:04"
		return ticks, layout, tmin, tmax
	}
	return ticks, u.layout, tmin, tmax
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
