package match

// The normalisers below are the ones matching compares with, exported so
// that golden demographics (package merge) call the same code: a name,
// phone or identifier equal in one is equal in the other.

// NormaliseName folds a name or address part as matching compares it:
// lower case, accents stripped, apostrophes dropped and every other run of
// punctuation or space a single space.
func NormaliseName(s string) string { return foldText(s, false) }

// NormaliseIdentifier normalises an identifier value as matching compares
// it: upper case, separators (space, hyphen, dot, slash) removed, and ""
// for placeholders (one repeated character, 123456789, UNKNOWN...).
func NormaliseIdentifier(s string) string { return normIdentifier(s) }
