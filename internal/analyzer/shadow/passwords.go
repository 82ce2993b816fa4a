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

// quickCommon are the guesses of the quick list after the account's own
// name: the most common passwords and the vendor and image defaults, most
// likely first.
var quickCommon = []string{
	"root", "toor", "password", "123456", "admin", "changeme", "letmein",
	"12345678", "123456789", "1234", "12345", "qwerty", "secret", "passw0rd",
	"P@ssw0rd", "Password1", "password1", "admin123", "root123", "default",
	"test", "guest", "user", "pass", "debian", "ubuntu", "docker", "vagrant",
	"raspberry", "alpine", "abc123", "111111", "000000", "welcome",
}

// quickList is the short list for account name: an empty password behind a
// hash, the name, the few most common passwords, simple variants of the
// name (Name, name123, name1, name!, namename, eman), a blank, then the
// rest of quickCommon.
func quickList(name string) []string {
	var l guessList
	l.add("")
	l.add(name)
	for _, g := range quickCommon[:7] {
		l.add(g)
	}
	l.add(capitalise(name))
	l.add(name + "123")
	l.add(name + "1")
	l.add(name + "!")
	l.add(name + name)
	l.add(reverse(name))
	l.add(" ")
	for _, g := range quickCommon[7:] {
		l.add(g)
	}
	return l.list
}

// quickExpensive is how many guesses of the quick list are tried against
// a hash of an expensive scheme (yescrypt, bcrypt: tens of milliseconds
// each, more on a busy machine), so that the quick mode's work depends on
// the hash rather than on how busy the machine is: the empty password, the
// name and the most common passwords (for root: root, toor, password,
// 123456, admin, changeme, letmein).
const quickExpensive = 8

// guessesFor returns the list tried against a hash of scheme in mode.
func guessesFor(mode, name, scheme string) []string {
	if mode == GuessDeep {
		return deepList(name)
	}
	l := quickList(name)
	if scheme == "yescrypt" || scheme == "bcrypt" {
		l = l[:min(len(l), quickExpensive)]
	}
	return l
}

// deepList is the quick list followed by the long built-in list and its
// variants (Candidates).
func deepList(name string) []string {
	var l guessList
	for _, g := range quickList(name) {
		l.add(g)
	}
	for _, g := range Candidates() {
		l.add(g)
	}
	return l.list
}

// guessList collects guesses in order, without duplicates.
type guessList struct {
	list []string
	seen map[string]bool
}

func (l *guessList) add(s string) {
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if !l.seen[s] {
		l.seen[s] = true
		l.list = append(l.list, s)
	}
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
