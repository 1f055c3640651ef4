package pdfdoc_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/carelens/carelens/internal/pdfdoc"
)

func Example() {
	d := &pdfdoc.Doc{
		Title: "Patient record",
		Header: []string{
			"Zoë O'Brien-Łukasz   NHS number 943 476 5919   Born 14 March 1958",
			"Printed 11 February 2025 14:30 by Dr Amal Rahman   Sources: GP practice, Acute hospital",
		},
		Notices: []pdfdoc.Notice{{Kind: pdfdoc.Error, Text: "Acute hospital did not answer within 3 s; its data is not shown."}},
		Sections: []pdfdoc.Section{{
			Heading: "Medications",
			Columns: []string{"Medicine", "Dose"},
			Widths:  []float64{2, 3},
			Rows: []pdfdoc.Row{
				{Cells: []string{"Metformin 500 mg tablets", "1 tablet twice a day"}, Sources: "GP practice"},
				{Cells: []string{"Atorvastatin 20 mg tablets", "GP: 1 at night; hospital: 2 at night"}, Flag: "CONFLICT", Sources: "GP practice, Acute hospital"},
			},
		}},
		Footer:  "Printed copy of the record as shown on screen.",
		Created: time.Date(2025, 2, 11, 14, 30, 0, 0, time.UTC), // fixed: same Doc, same bytes
	}
	var b bytes.Buffer
	if err := pdfdoc.Render(&b, d); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", b.Bytes()[:8])
	// Output:
	// %PDF-1.3
}
