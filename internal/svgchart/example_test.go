package svgchart_test

import (
	"fmt"
	"regexp"
	"time"

	"github.com/carelens/carelens/internal/svgchart"
)

func Example() {
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 0, 0, 0, time.UTC) }
	s := svgchart.Series{
		Title: "eGFR", Unit: "mL/min/1.73m2", Low: new(60.0),
		Points: []svgchart.Point{
			{Time: at(2022, 5, 9), Value: 72, Label: "GP practice"},
			{Time: at(2023, 5, 2), Value: 64, Label: "GP practice, Acute hospital"},
			{Time: at(2024, 4, 30), Value: 57, Label: "Acute hospital; GP practice says 61", Conflict: true},
		},
	}
	h, err := svgchart.HTML(s, &svgchart.Options{ID: "egfr"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// h goes straight into a template: {{.EGFRChart}}.
	fmt.Println(regexp.MustCompile(`<desc[^>]*>(.*)</desc>`).FindStringSubmatch(string(h))[1])
	fmt.Println(len(regexp.MustCompile(`<g class="point">`).FindAllString(string(h), -1)), "markers")
	// Output:
	// eGFR, 3 results from 9 May 2022 to 30 April 2024, latest 57 mL/min/1.73m2 on 30 April 2024. Lowest 57, highest 72. Reference range at least 60 mL/min/1.73m2; 1 result outside it. Sources disagree on 1 result.
	// 3 markers
}
