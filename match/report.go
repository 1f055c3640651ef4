package match

import (
	"fmt"
	"io"
	"strings"
)

// WriteTrainingReport writes the training report recorded in the model:
// per comparison its levels with m, u, weight (and the weight given the
// field it depends on), how m and u were estimated, and every warning.
// It holds no PHI. A model that was not trained writes one line saying so.
func (m *Model) WriteTrainingReport(w io.Writer) error {
	t := m.Training
	if t == nil {
		_, err := fmt.Fprintln(w, "model not trained on this data: parameters as loaded")
		return err
	}
	var b strings.Builder
	conv := "converged"
	if !t.Converged {
		conv = "not converged"
	}
	fmt.Fprintf(&b, "training: %d records, %d random pairs, %d candidate pairs, prior %.3g, EM %d iterations (%s); twins guard %s\n",
		t.Records, t.RandomPairs, t.CandidatePairs, m.Prior, t.EMIterations, conv, map[bool]string{true: "OFF", false: "on"}[m.NoTwinGuard])
	fmt.Fprintf(&b, "%-22s %-34s %9s %9s %7s %7s  %s\n", "comparison", "level", "m", "u", "weight", "w|given", "m from / u from")
	for _, c := range t.Comparisons {
		name := c.Name
		if c.Given != "" {
			name += " (depends on " + c.Given + ")"
		}
		if c.Group != "" {
			name += " (group " + c.Group + ": the group's disagreement counts once)"
		}
		fmt.Fprintf(&b, "%s, %.0f matching pairs\n", name, c.Pairs)
		for _, l := range c.Levels {
			given := ""
			if l.UGiven > 0 {
				given = fmt.Sprintf("%7.2f", l.WeightGiven)
			}
			fmt.Fprintf(&b, "  %-54s %9.3g %9.3g %7.2f %7s  %s / %s\n", l.Label, l.M, l.U, l.Weight, given, l.MFrom, l.UFrom)
		}
		for _, wn := range c.Warnings {
			fmt.Fprintf(&b, "  warning: %s\n", wn)
		}
	}
	for _, wn := range t.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", wn)
	}
	if t.Data != nil {
		for _, l := range t.Data.Lines() {
			fmt.Fprintf(&b, "data: %s\n", l)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
