package audit

import (
	"bytes"
	"fmt"
	"os"
)

// ReadKey reads a MAC key from a file: the file's bytes with surrounding
// white space removed, at least [MinKeyLen] of them. A file that other
// users may read is refused, as is a key that is too short; the errors
// name the file, never the key.
func ReadKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit: key file: %w", err)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return nil, fmt.Errorf("%w: key file %s is readable by every user (chmod o-r)", ErrKey, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: key file: %w", err)
	}
	k := bytes.TrimSpace(b)
	if len(k) < MinKeyLen {
		return nil, fmt.Errorf("%w: key file %s holds %d bytes, need at least %d", ErrKey, path, len(k), MinKeyLen)
	}
	return k, nil
}
