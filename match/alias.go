package match

import (
	_ "embed"
	"slices"
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

// aliasGroups maps a folded given name to the canonical forms of every
// alias-table line it appears on (at most maxAliasGroups): "nell" is on the
// lines of eleanor, helen and ellen, and matches each of them.
var aliasGroups = func() map[string][]string {
	m := make(map[string][]string)
	for line := range strings.Lines(nicknameData) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		for _, a := range f {
			if len(m[a]) < maxAliasGroups && !slices.Contains(m[a], f[0]) {
				m[a] = append(m[a], f[0])
			}
		}
	}
	return m
}()

// maxAliasGroups bounds the alias groups kept per name.
const maxAliasGroups = 3

// aliasSet holds the vocabulary ids of a name's alias groups; zero ids are
// unused slots.
type aliasSet [maxAliasGroups]uint32

// intersects reports whether two alias sets share a group.
func (a *aliasSet) intersects(b *aliasSet) bool {
	for _, x := range a {
		if x == 0 {
			continue
		}
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

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
