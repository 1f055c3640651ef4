// Package svgchart draws a trend chart of one repeated test (HbA1c, eGFR,
// potassium…) as a self-contained SVG fragment that the viewer embeds
// inline in its server-rendered pages.
//
// The output needs nothing from the page it sits in: no script, no
// external asset, no style element and no style attribute, only SVG
// presentation attributes (fill, stroke, font-family…). It therefore works
// under a strict Content-Security-Policy that forbids inline script and
// inline style.
//
// # What a chart shows
//
// A line through the results in time order, one marker per result, an
// optional reference-range band, a value axis and a date axis with
// labelled ticks, and a legend of the marker kinds that occur. Markers
// differ by shape as well as colour, so the chart reads in greyscale and
// for colour-blind users:
//
//   - a filled blue circle: a result inside the reference range, or any
//     result when no range is given;
//   - a filled red triangle pointing up or down: a result above or below
//     the reference range;
//   - a hollow red diamond: a result on which sources disagree
//     ([Point.Conflict]), whatever its value.
//
// # Accessibility
//
// The root element has role="img" and is labelled by its <title> (the
// series title and unit) and its <desc>, a sentence summarising the
// results ("HbA1c, 6 results from 1 March 2019 to 11 February 2025,
// latest 48 mmol/mol on 11 February 2025…"). Every marker carries its own
// <title> with the date, value, range status, sources and any
// disagreement, which browsers show as a tooltip.
//
// # Invariants
//
//   - All text comes from clinical sources and is treated as hostile: it
//     is XML-escaped, characters that XML cannot carry become U+FFFD, and
//     each string is cut to [MaxTextRunes] runes.
//   - Output is deterministic: the same [Series] and [Options] give the
//     same bytes, so golden files can pin it.
//   - Output is bounded: at most [Options.MaxPoints] markers (default
//     [DefaultMaxPoints]) are drawn. When a series has more, the most
//     recent ones are drawn and the chart says so in its <desc> and in a
//     visible caption; the summary in <desc> still counts every result.
//   - Non-finite values (NaN, ±Inf) and zero times are rejected with an
//     error wrapping [ErrInvalidPoint]; nothing is written.
//
// # Non-goals
//
// Interactive charts, several series on one chart, and logarithmic axes.
// The chart is a summary aid: the full list of results, with every value
// and source, is the timeline beside it.
package svgchart
