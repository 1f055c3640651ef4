package viewer

import (
	"html/template"

	"github.com/carelens/carelens/federate"
	"github.com/carelens/carelens/internal/svgchart"
)

// The size trend charts are drawn at, in CSS pixels.
const chartWidth, chartHeight = 320, 200

// chart draws a trend as inline SVG, or nothing when it cannot be drawn
// (the latest value is shown as text either way).
func (s *Server) chart(t federate.Trend) template.HTML {
	ser := svgchart.Series{Title: t.Name, Unit: t.Unit}
	for _, p := range t.Points {
		label, _ := s.sourceNames(p.Entry.Lineage)
		ser.Points = append(ser.Points, svgchart.Point{Time: p.Time, Value: p.Value, Label: label, Conflict: p.Entry.Conflict != 0})
	}
	// Drawn at about the width of a result card (the grid's 320 px
	// track), so that its labels show near their own 12 px: drawn at the
	// default 640 and scaled into a card, they were under 6 px.
	h, err := svgchart.HTML(ser, &svgchart.Options{Width: chartWidth, Height: chartHeight})
	if err != nil {
		s.log.Warn("trend chart not drawn", "err", err)
		return ""
	}
	return h
}
