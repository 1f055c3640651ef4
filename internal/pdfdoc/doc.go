// Package pdfdoc renders a small, generic document model as a PDF: the
// viewer's print button fills a [Doc] with what is on screen (filters
// applied) and [Render] writes it, server-side, with the pure-Go library
// codeberg.org/go-pdf/fpdf.
//
// # Layout
//
// Pages are A4 portrait in a plain, high-contrast style after the NHS
// identity: dark text (#212b32) on white, NHS blue (#005eb8) rules, and
// red (#d5281b) only for what needs attention. Every page carries the
// same header block ([Doc.Title] and the [Doc.Header] lines: patient
// name, NHS number, birth date, the date, the user, the sources) and a
// footer ([Doc.Footer] and "Page N of M"). [Doc.Notices] are banners on
// the first page. Each [Section] has a heading, optional paragraphs and
// an optional table.
//
// Tables wrap long cell text onto further lines; nothing is truncated or
// drawn outside its cell. A row that does not fit on the rest of a page
// moves whole to the next page, and the column headings are repeated at
// the top of every page a table continues on. Only a row taller than a
// whole page is split, at a line boundary, and its continuation is marked.
// A section heading is never left alone at the foot of a page.
//
// Rows with a [Row.Flag] (such as "CONFLICT") are marked three ways, so
// the mark survives greyscale printing: the flag text in bold in its own
// first column, a red bar at the row's left edge, and a tinted background.
// [Row.Sources] is printed in a last "Sources" column when any row of the
// section has sources.
//
// # Text and characters
//
// The PDF uses the standard Helvetica font, which every PDF reader has, so
// nothing is embedded and output stays small. Its encoding is Windows-1252
// (cp1252): text is translated with fpdf's cp1252 translator, so Western
// European letters such as "ë", "é", "ñ" or "ß" print as themselves, and
// any character cp1252 cannot encode (such as "Ł", "ő", Greek, Cyrillic,
// CJK, emoji, or a combining accent) prints as "?". A name such as
// "Zoë O'Brien-Łukasz" prints as "Zoë O'Brien-?ukasz": visibly altered,
// never silently changed to another letter. Tabs print as spaces, and
// other control characters and invalid UTF-8 as "?".
//
// # Determinism and bounds
//
// The same Doc gives the same bytes: the PDF's creation and modification
// dates are [Doc.Created] (the current time only when that is zero), and
// the internal catalogues are written in sorted order. Work is linear in
// the size of the text; a document that would need more than [MaxPages]
// pages is refused with [ErrTooManyPages] rather than printed in part.
//
// # Non-goals
//
// Images, embedded fonts, right-to-left scripts, hyperlinks and forms.
package pdfdoc
