// Package nhsnumber reads and checks NHS numbers: the ten-digit number
// (three, three and four digits as usually written) whose last digit is a
// modulus-11 check on the first nine.
package nhsnumber

// CheckDigit returns the modulus-11 check digit for the first nine digits
// of an NHS number, and false when no valid number has those nine digits
// (the remainder rule gives 10). first9 must hold exactly nine ASCII digits;
// otherwise ok is false.
//
// The algorithm: weight digits 1..9 by 10, 9, ..., 2, sum, take the sum
// modulo 11, subtract that from 11; 11 becomes 0 and 10 means no number.
func CheckDigit(first9 string) (digit byte, ok bool) {
	if len(first9) != 9 {
		return 0, false
	}
	sum := 0
	for i := range 9 {
		c := first9[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		sum += int(c-'0') * (10 - i)
	}
	check := 11 - sum%11
	switch check {
	case 11:
		return '0', true
	case 10:
		return 0, false
	}
	return byte('0' + check), true
}

// Normalise strips spaces and hyphens (the number is often written
// 3-3-4) and returns the ten digits, or "" if what remains is not ten digits.
func Normalise(s string) string {
	var b [10]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
			continue
		case c >= '0' && c <= '9':
			if n == 10 {
				return ""
			}
			b[n] = c
			n++
		default:
			return ""
		}
	}
	if n != 10 {
		return ""
	}
	return string(b[:])
}

// Valid reports whether s (after [Normalise]) is a usable
// NHS number: ten digits whose check digit is right and which is not a
// number that passes the check but is never issued to a person: one digit
// repeated (0000000000, 9999999999...). Only a valid number is ever an
// identifier match.
func Valid(s string) bool {
	n := Normalise(s)
	if n == "" {
		return false
	}
	repdigit := true
	for i := 1; i < 10; i++ {
		if n[i] != n[0] {
			repdigit = false
			break
		}
	}
	if repdigit {
		return false
	}
	d, ok := CheckDigit(n[:9])
	return ok && d == n[9]
}
