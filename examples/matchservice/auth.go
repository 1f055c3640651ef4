package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
)

// Tokens are the bearer tokens a service accepts, each with the name of
// the client holding it. Only SHA-256 digests of the tokens are kept.
type Tokens struct {
	names   []string
	digests [][sha256.Size]byte
}

// MinTokenLength is the shortest token accepted: 32 characters, e.g.
// `openssl rand -hex 16` or longer.
const MinTokenLength = 32

var (
	clientName = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)
	tokenChars = regexp.MustCompile(`^[\x21-\x7e]+$`)
)

// maxTokenFile bounds the token file.
const maxTokenFile = 1 << 20

// LoadTokens reads a token file: one client a line, its name then its
// token separated by spaces or tabs; blank lines and lines starting with
// # are ignored. Names are 1-64 of A-Z a-z 0-9 . _ @ -; tokens are at
// least MinTokenLength printable ASCII characters. Names and tokens are
// unique. The file must not be readable by group or others (as ssh
// insists of private keys). Errors name the line, never a token.
func LoadTokens(path string) (*Tokens, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("token file %s: readable by group or others (mode %#o); chmod 600 it", path, fi.Mode().Perm())
	}
	if fi.Size() > maxTokenFile {
		return nil, fmt.Errorf("token file %s: larger than %d bytes", path, maxTokenFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	t, err := ParseTokens(data)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return t, nil
}

// ParseTokens parses the contents of a token file (see [LoadTokens]).
func ParseTokens(data []byte) (*Tokens, error) {
	t := &Tokens{}
	names := map[string]bool{}
	digests := map[[sha256.Size]byte]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want a name and a token", n)
		}
		name, tok := f[0], f[1]
		if !clientName.MatchString(name) {
			return nil, fmt.Errorf("line %d: a name is 1-64 of A-Z a-z 0-9 . _ @ -", n)
		}
		if len(tok) < MinTokenLength || !tokenChars.MatchString(tok) {
			return nil, fmt.Errorf("line %d (%s): a token is at least %d printable ASCII characters", n, name, MinTokenLength)
		}
		d := sha256.Sum256([]byte(tok))
		if names[name] || digests[d] {
			return nil, fmt.Errorf("line %d (%s): name or token repeated", n, name)
		}
		names[name], digests[d] = true, true
		t.names = append(t.names, name)
		t.digests = append(t.digests, d)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.names) == 0 {
		return nil, errors.New("no tokens")
	}
	return t, nil
}

// lookup returns the name of tok's holder. Every digest is compared, in
// constant time, whatever matches.
func (t *Tokens) lookup(tok string) (string, bool) {
	d := sha256.Sum256([]byte(tok))
	found := -1
	for i := range t.digests {
		if subtle.ConstantTimeCompare(d[:], t.digests[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return t.names[found], true
}

// authenticate names the caller: a bearer token's holder, or a verified
// client certificate's common name. via says which ("token", "cert",
// "none").
func (h *Handler) authenticate(r *http.Request) (who, via string, ok bool) {
	if h.o.Tokens != nil {
		if scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") {
			if name, ok := h.o.Tokens.lookup(strings.TrimSpace(tok)); ok {
				return name, "token", true
			}
			return "unknown", "token", false
		}
	}
	if h.o.ClientCerts && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
		if !clientName.MatchString(cn) {
			cn = "(unprintable common name)"
		}
		return cn, "cert", true
	}
	if h.o.Anonymous {
		return "anonymous", "none", true
	}
	return "unknown", "none", false
}
