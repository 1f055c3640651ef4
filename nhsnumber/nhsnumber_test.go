package nhsnumber

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidNHSNumber(t *testing.T) {
	tests := []struct {
		name, in string
		want     bool
		reason   string
	}{
		{name: "canonical test number", in: "9434765919", want: true},
		{name: "valid", in: "4010232137", want: true},
		{name: "valid 2", in: "5738563913", want: true},
		{name: "spaced 3-3-4", in: "943 476 5919", want: true},
		{name: "hyphenated", in: "943-476-5919", want: true},
		{name: "wrong check digit", in: "9434765918", want: false},
		{name: "transposed last two", in: "9434765991", want: false},
		{name: "remainder ten", in: "1234567890", want: false, reason: "check digit 10 is never issued"},
		{name: "zeros pass checksum", in: "0000000000", want: false, reason: "repdigit passes mod 11 but is a placeholder"},
		{name: "nines pass checksum", in: "9999999999", want: false, reason: "repdigit"},
		{name: "too short", in: "943476591", want: false},
		{name: "too long", in: "94347659190", want: false},
		{name: "letters", in: "94347659A9", want: false},
		{name: "empty", in: "", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Valid(tc.in), tc.reason)
		})
	}
}

// TestNHSCheckDigitDetectsSingleErrors checks the property that makes the
// NHS number a safe key: every single-digit substitution and every adjacent
// transposition of a valid number is invalid.
func TestNHSCheckDigitDetectsSingleErrors(t *testing.T) {
	for _, n := range []string{"9434765919", "4010232137", "5738563913"} {
		b := []byte(n)
		for i := range 10 {
			orig := b[i]
			for d := byte('0'); d <= '9'; d++ {
				if d == orig {
					continue
				}
				b[i] = d
				assert.False(t, Valid(string(b)), "substitution %s", b)
			}
			b[i] = orig
			if i < 9 && b[i] != b[i+1] {
				b[i], b[i+1] = b[i+1], b[i]
				assert.False(t, Valid(string(b)), "transposition %s", b)
				b[i], b[i+1] = b[i+1], b[i]
			}
		}
	}
}
