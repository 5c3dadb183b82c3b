package chaos

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Needle is one plaintext value to look for on disk, in every encoding
// [NewNeedle] derives. Label names it in reports (e.g. "phone 3"); the
// value itself is never reported.
type Needle struct {
	Label string
	forms [][]byte
}

// NewNeedle returns a needle matching each of values (for a phone number,
// pass its E.164 form and its digits, the wa_id) as is, in lower-case
// hex, and in standard and URL-safe base64 at each of the three byte
// alignments it can have inside a longer encoded string. Forms shorter
// than 6 bytes are dropped, as too likely to match by chance.
func NewNeedle(label string, values ...string) Needle {
	n := Needle{Label: label}
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= 6 && !seen[s] {
			seen[s] = true
			n.forms = append(n.forms, []byte(s))
		}
	}
	for _, v := range values {
		add(v)
		add(hex.EncodeToString([]byte(v)))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			for _, s := range base64Cores(enc, []byte(v)) {
				add(s)
			}
		}
	}
	return n
}

// Forms returns how many byte strings the needle matches.
func (n Needle) Forms() int { return len(n.forms) }

// base64Cores returns, for each alignment of v within a longer input
// (0, 1 or 2 bytes before it), the run of base64 characters that depend
// on v's bytes alone.
func base64Cores(enc *base64.Encoding, v []byte) []string {
	var out []string
	for a := range 3 {
		s := enc.EncodeToString(append(make([]byte, a), v...))
		from := (8*a + 5) / 6      // first character clear of the prefix
		to := 8 * (a + len(v)) / 6 // characters wholly inside v
		if to > from {
			out = append(out, s[from:to])
		}
	}
	return out
}

// Hit is a needle found in a file.
type Hit struct {
	Path, Label string
}

// Scan reads every regular file under each root (symbolic links are not
// followed) and returns, sorted, where any form of any needle occurs.
// Missing roots are skipped.
func Scan(needles []Needle, roots ...string) ([]Hit, error) {
	var hits []Hit
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, n := range needles {
				for _, f := range n.forms {
					if bytes.Contains(b, f) {
						hits = append(hits, Hit{Path: path, Label: n.Label})
						break
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		return hits[i].Path < hits[j].Path || (hits[i].Path == hits[j].Path && hits[i].Label < hits[j].Label)
	})
	return hits, nil
}
