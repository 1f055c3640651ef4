package viewer

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/provenance"
)

// FuzzFilters: the record page's query string, which any user controls,
// either fails cleanly or reads into filters that write back to a query
// reading into the same filters.
func FuzzFilters(f *testing.F) {
	srcs := []provenance.Source{{ID: "gp"}, {ID: "hospital"}, {ID: "community"}}
	for _, s := range []string{"", "f=1&src=gp", "cat=result&cat=note&from=2020-01-01&to=2021-12-31", "hide=hospital", "f=1", "cat=bogus", "from=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, err := readFilters(v, srcs)
		if err != nil {
			return
		}
		q := fl.query(srcs)
		v2, err := url.ParseQuery(trimQ(q))
		require.NoError(t, err)
		fl2, err := readFilters(v2, srcs)
		require.NoError(t, err)
		for _, s := range srcs {
			assert.Equal(t, fl.Hidden[s.ID], fl2.Hidden[s.ID], s.ID)
		}
		assert.Equal(t, len(fl.Categories), len(fl2.Categories))
		for c := range fl.Categories {
			assert.True(t, fl2.Categories[c])
		}
		assert.True(t, fl.From.Equal(fl2.From))
		assert.True(t, fl.To.Equal(fl2.To))
	})
}

func trimQ(q string) string {
	if len(q) > 0 && q[0] == '?' {
		return q[1:]
	}
	return q
}
