package match

import (
	_ "embed"
	"strings"
)

//go:embed nicknames.txt
var nicknameData string

// aliasCanon maps a folded given name to its canonical form; names absent
// from the table are their own canonical form.
var aliasCanon = func() map[string]string {
	m := make(map[string]string)
	for line := range strings.Lines(nicknameData) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if _, ok := m[f[0]]; !ok {
			m[f[0]] = f[0]
		}
		for _, a := range f[1:] {
			if _, ok := m[a]; !ok {
				m[a] = f[0]
			}
		}
	}
	return m
}()

// CanonicalGivenName returns the canonical form of a given name from the
// shipped alias table (nicknames and transliterations: "bob" → "robert",
// "mohammed" → "muhammad"). The name is folded first; a name not in the
// table is returned folded.
func CanonicalGivenName(name string) string {
	f := foldText(name, false)
	if c, ok := aliasCanon[f]; ok {
		return c
	}
	return f
}
