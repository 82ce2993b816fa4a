package shadow

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
)

//go:embed passwords.txt
var passwordList string

// variantSuffixes are appended to each word of the list, in this order,
// after the list itself has been tried.
var variantSuffixes = []string{"1", "123", "!", "12", "1234", "1!", "2024", "2023", "2025", "@123", "01"}

var (
	candidatesOnce sync.Once
	candidateList  []string
)

// Candidates returns the built-in password guesses, most likely first: the
// embedded list, then its words capitalised and with common suffixes.
func Candidates() []string {
	candidatesOnce.Do(func() {
		seen := map[string]bool{}
		add := func(s string) {
			if s != "" && !seen[s] {
				seen[s] = true
				candidateList = append(candidateList, s)
			}
		}
		var words []string
		for _, l := range strings.Split(passwordList, "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			add(l)
			if isWord(l) {
				words = append(words, l)
			}
		}
		for _, w := range words {
			add(capitalise(w))
		}
		for _, suf := range variantSuffixes {
			for _, w := range words {
				add(w + suf)
				add(capitalise(w) + suf)
			}
		}
	})
	return candidateList
}

func isWord(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
