package match

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed placeholders.tsv
var placeholderData string

// placeholderKinds are the kinds of entry placeholders.tsv may hold.
var placeholderKinds = []string{"given", "given-prefix", "family", "family-prefix", "whole-name", "email-local", "identifier", "date"}

// placeholders maps kind → value → the entry's evidence, read once from
// placeholders.tsv: the one list of values that say nothing about who a
// person is, for the batch linker, the index and merge's golden
// demographics alike.
var placeholders = mustReadPlaceholders(placeholderData)

func mustReadPlaceholders(data string) map[string]map[string]string {
	m, err := readPlaceholders(data)
	if err != nil {
		panic(err) // the file ships with the package; its test reads it
	}
	return m
}

// readPlaceholders parses placeholder entries: kind, value and evidence,
// tab-separated; # starts a comment line. Every entry needs all three.
func readPlaceholders(data string) (map[string]map[string]string, error) {
	m := map[string]map[string]string{}
	for _, k := range placeholderKinds {
		m[k] = map[string]string{}
	}
	n := 0
	for line := range strings.Lines(data) {
		n++
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[1] == "" || strings.TrimSpace(f[2]) == "" {
			return nil, fmt.Errorf("match: placeholders.tsv line %d: want kind, value and evidence, tab-separated", n)
		}
		byValue, ok := m[f[0]]
		if !ok {
			return nil, fmt.Errorf("match: placeholders.tsv line %d: unknown kind %q", n, f[0])
		}
		if _, dup := byValue[f[1]]; dup {
			return nil, fmt.Errorf("match: placeholders.tsv line %d: %s %q listed twice", n, f[0], f[1])
		}
		byValue[f[1]] = f[2]
	}
	return m, nil
}

// isPlaceholder reports whether v is an entry of kind.
func isPlaceholder(kind, v string) bool {
	_, ok := placeholders[kind][v]
	return ok
}

// hasPlaceholderPrefix reports whether v starts with an entry of kind.
func hasPlaceholderPrefix(kind, v string) bool {
	for p := range placeholders[kind] {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}
