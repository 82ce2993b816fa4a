package layer

import "strings"

// View is the final filesystem of an image, built by stacking layer indexes
// with overlay semantics: a whiteout deletes a path and everything below it,
// an opaque directory hides what lower layers put in it, and a file replaces
// what was at its path before. For each path it remembers which layer's
// version is the one a container sees.
type View struct {
	root node
}

type node struct {
	kids  map[string]*node
	layer int // index of the layer whose file is final here; -1 for a directory only
}

// NewView stacks indexes, lowest layer first.
func NewView(indexes []*Index) *View {
	v := &View{root: node{layer: -1}}
	for i, ix := range indexes {
		for _, d := range ix.Opaque {
			if n := v.find(d); n != nil {
				n.kids = nil
			}
		}
		for _, p := range ix.Whiteouts {
			v.remove(p)
		}
		for _, p := range ix.Files {
			n := v.make(p)
			n.layer = i
			n.kids = nil
		}
	}
	return v
}

// Owner returns the index of the layer whose version of the file at p is in
// the final filesystem, or -1 when p is not a file there.
func (v *View) Owner(p string) int {
	if n := v.find(p); n != nil {
		return n.layer
	}
	return -1
}

// Final reports whether layer i's version of p is the one in the final filesystem.
func (v *View) Final(p string, i int) bool { return v.Owner(p) == i }

func (v *View) find(p string) *node {
	n := &v.root
	if p == "" {
		return n
	}
	for _, el := range strings.Split(p, "/") {
		n = n.kids[el]
		if n == nil {
			return nil
		}
	}
	return n
}

func (v *View) make(p string) *node {
	n := &v.root
	for _, el := range strings.Split(p, "/") {
		k := n.kids[el]
		if k == nil {
			k = &node{layer: -1}
			if n.kids == nil {
				n.kids = map[string]*node{}
			}
			n.kids[el] = k
		}
		n.layer = -1 // a file with children below it has become a directory
		n = k
	}
	return n
}

func (v *View) remove(p string) {
	dir, base := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, base = p[:i], p[i+1:]
	}
	if parent := v.find(dir); parent != nil {
		delete(parent.kids, base)
	}
}
