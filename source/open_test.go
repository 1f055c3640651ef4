package source_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/provenance"
	"github.com/carelens/carelens/source"
)

func TestConfigValidate(t *testing.T) {
	const secret = "Bearer s3cr3t-t0ken"
	fhir := source.Config{ID: "hospital", Kind: provenance.KindHospital, Type: source.TypeFHIR, BaseURL: "https://ehr.example.nhs.uk/fhir/R4"}
	folder := source.Config{ID: "gp", Kind: "GP", Type: source.TypeFolder, Dir: "/srv/gp"}
	with := func(c source.Config, f func(*source.Config)) source.Config { f(&c); return c }
	tests := []struct {
		name  string
		c     source.Config
		field string // "" when valid
	}{
		{name: "fhir", c: fhir},
		{name: "folder, kind in any case", c: folder},
		{name: "headers", c: with(fhir, func(c *source.Config) { c.Headers = map[string]string{"Authorization": secret} })},
		{name: "limits", c: with(fhir, func(c *source.Config) {
			c.Timeout, c.MaxAge, c.MaxBytes = source.Duration(time.Second), source.Duration(time.Hour), 1<<20
		})},
		{name: "no id", c: with(fhir, func(c *source.Config) { c.ID = "" }), field: "id"},
		{name: "unsafe id", c: with(fhir, func(c *source.Config) { c.ID = "../etc" }), field: "id"},
		{name: "long id", c: with(fhir, func(c *source.Config) { c.ID = strings.Repeat("a", 65) }), field: "id"},
		{name: "unknown kind", c: with(fhir, func(c *source.Config) { c.Kind = "pharmacy-ish" }), field: "kind"},
		{name: "no type", c: with(fhir, func(c *source.Config) { c.Type = "" }), field: "type"},
		{name: "unknown type", c: with(fhir, func(c *source.Config) { c.Type = "hl7v2" }), field: "type"},
		{name: "no base url", c: with(fhir, func(c *source.Config) { c.BaseURL = "" }), field: "baseUrl"},
		{name: "relative base url", c: with(fhir, func(c *source.Config) { c.BaseURL = "/fhir" }), field: "baseUrl"},
		{name: "ftp base url", c: with(fhir, func(c *source.Config) { c.BaseURL = "ftp://ehr.example/fhir" }), field: "baseUrl"},
		{name: "credentials in url", c: with(fhir, func(c *source.Config) { c.BaseURL = "https://user:" + secret + "@ehr.example/fhir" }), field: "baseUrl"},
		{name: "query in url", c: with(fhir, func(c *source.Config) { c.BaseURL = "https://ehr.example/fhir?key=" + secret }), field: "baseUrl"},
		{name: "dir on fhir", c: with(fhir, func(c *source.Config) { c.Dir = "/tmp" }), field: "dir"},
		{name: "no dir", c: with(folder, func(c *source.Config) { c.Dir = "" }), field: "dir"},
		{name: "base url on folder", c: with(folder, func(c *source.Config) { c.BaseURL = "https://x.example" }), field: "baseUrl"},
		{name: "bad header name", c: with(fhir, func(c *source.Config) { c.Headers = map[string]string{"Bad Name": secret} }), field: "headers"},
		{name: "header value with newline", c: with(fhir, func(c *source.Config) { c.Headers = map[string]string{"Authorization": secret + "\r\nX: y"} }), field: "headers"},
		{name: "negative timeout", c: with(fhir, func(c *source.Config) { c.Timeout = source.Duration(-time.Second) }), field: "timeout"},
		{name: "huge timeout", c: with(fhir, func(c *source.Config) { c.Timeout = source.Duration(time.Hour) }), field: "timeout"},
		{name: "negative max age", c: with(fhir, func(c *source.Config) { c.MaxAge = source.Duration(-1) }), field: "maxAge"},
		{name: "negative max bytes", c: with(fhir, func(c *source.Config) { c.MaxBytes = -1 }), field: "maxBytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, source.ErrConfig)
			assert.Contains(t, err.Error(), tc.field+":", "the error names the field")
			assert.NotContains(t, err.Error(), "s3cr3t", "never a secret")
			if tc.c.ID == "hospital" {
				assert.Contains(t, err.Error(), `"hospital"`, "the error names the source")
			}
			_, err = source.Open(tc.c, nil)
			assert.ErrorIs(t, err, source.ErrConfig, "Open validates")
		})
	}
}

func TestLoadConfigs(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string // substring; "" when valid
	}{
		{name: "two sources", json: `[
			{"id":"gp","kind":"GP","type":"folder","dir":"/srv/gp"},
			{"id":"hospital","kind":"hospital","type":"fhir","baseUrl":"https://ehr.example/fhir","timeout":"2s","maxAge":"24h",
			 "headers":{"Authorization":"Bearer x"}}]`},
		{name: "duplicate id", json: `[{"id":"gp","kind":"gp","type":"folder","dir":"a"},{"id":"gp","kind":"gp","type":"folder","dir":"b"}]`, wantErr: "entries 0 and 1"},
		{name: "unknown field", json: `[{"id":"gp","kind":"gp","type":"folder","dir":"a","base_url":"x"}]`, wantErr: "unknown field"},
		{name: "invalid entry", json: `[{"id":"gp","kind":"gp","type":"fhir"}]`, wantErr: "entry 0"},
		{name: "bad duration", json: `[{"id":"gp","kind":"gp","type":"folder","dir":"a","timeout":3}]`, wantErr: "duration"},
		{name: "not JSON", json: `[{"id":`, wantErr: "configuration"},
		{name: "trailing value", json: `[] []`, wantErr: "more than one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := source.LoadConfigs(strings.NewReader(tc.json))
			if tc.wantErr != "" {
				require.ErrorIs(t, err, source.ErrConfig)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, cs, 2)
			assert.Equal(t, provenance.KindGP, cs[0].Kind, "kind in canonical form")
			assert.Equal(t, 2*time.Second, cs[1].EffectiveTimeout())
			assert.Equal(t, source.Duration(24*time.Hour), cs[1].MaxAge)
		})
	}
}

func TestQueryParams(t *testing.T) {
	tests := []struct {
		name string
		q    source.Query
		want string // encoded; "" for an error
	}{
		{name: "nhs number", q: source.Query{NHSNumber: "9990000018", Family: "Sample"}, want: "identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9990000018"},
		{name: "demographics", q: source.Query{Family: " Sample ", Given: "Alex Jordan", BirthDate: "1970-01-01"}, want: "birthdate=1970-01-01&family=Sample&given=Alex"},
		{name: "invalid nhs number falls back", q: source.Query{NHSNumber: "9990000019", Family: "Sample", BirthDate: "1970-01-01"}, want: "birthdate=1970-01-01&family=Sample"},
		{name: "invalid nhs number alone", q: source.Query{NHSNumber: "9990000019"}},
		{name: "no birth date", q: source.Query{Family: "Sample"}},
		{name: "partial birth date", q: source.Query{Family: "Sample", BirthDate: "1970"}},
		{name: "empty", q: source.Query{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.q.Params()
			if tc.want == "" {
				require.ErrorIs(t, err, source.ErrQuery)
				assert.NotContains(t, err.Error(), "Sample")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, v.Encode())
		})
	}
}
