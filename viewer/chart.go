package viewer

import (
	"html/template"

	"github.com/carelens/carelens/federate"
	"github.com/carelens/carelens/internal/svgchart"
)

// chart draws a trend as inline SVG, or nothing when it cannot be drawn
// (the latest value is shown as text either way).
func (s *Server) chart(t federate.Trend) template.HTML {
	ser := svgchart.Series{Title: t.Name, Unit: t.Unit}
	for _, p := range t.Points {
		label, _ := s.sourceNames(p.Entry.Lineage)
		ser.Points = append(ser.Points, svgchart.Point{Time: p.Time, Value: p.Value, Label: label, Conflict: p.Entry.Conflict != 0})
	}
	h, err := svgchart.HTML(ser, nil)
	if err != nil {
		s.log.Warn("trend chart not drawn", "err", err)
		return ""
	}
	return h
}
