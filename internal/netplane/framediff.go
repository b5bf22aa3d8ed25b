package netplane

import (
	"slices"
	"strings"
)

// frameParts is a ruleset's Frame taken apart for incremental changes of
// structure (an interface, a group set that comes or goes): base is the
// Frame without the elements of its sets and maps, without the group sets'
// declarations and without the interface chains' (and without blank
// lines); two rulesets with the same base differ only in elements, group
// sets and interface chains, and the change from one to the other touches
// just those (incrementalChange). elems are the other sets' and maps'
// elements, groupDecl the group sets' declarations (one line each).
type frameParts struct {
	base      string
	elems     []frameElems
	groupDecl map[string]string
}

// frameElems are the elements of a set or map of the frame, as rendered.
type frameElems struct {
	name     string
	isMap    bool
	elements []string
}

// splitFrame takes rs.Frame apart (see frameParts). It relies on the
// layout render writes: blocks opened by a line "\t<kind> <name> {" and
// closed by "\t}", one statement a line at two tabs, continuation lines
// of a statement at three tabs or more.
func splitFrame(rs *Ruleset) frameParts {
	fp := frameParts{groupDecl: map[string]string{}}
	group := map[string]bool{}
	for _, s := range rs.Sets {
		group[s.Name] = true
	}
	ifChain := map[string]bool{}
	for _, c := range rs.Chains {
		ifChain[c.Name] = true
	}
	var base strings.Builder
	lines := strings.Split(rs.Frame, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" {
			continue
		}
		if name, ok := strings.CutPrefix(l, "\tchain "); ok {
			// The last chain's line also closes the table.
			name, closes := strings.CutSuffix(name, " {}}")
			if closes || strings.HasSuffix(name, " {}") {
				if ifChain[strings.TrimSuffix(name, " {}")] {
					if closes {
						base.WriteString("}\n")
					}
					continue
				}
			}
		}
		kind, name, ok := blockHead(l)
		if !ok || kind == "chain" {
			base.WriteString(l)
			base.WriteByte('\n')
			continue
		}
		// A set or a map: its statements up to the closing line.
		var decl []string
		var el *frameElems
		if !group[name] {
			base.WriteString(l)
			base.WriteByte('\n')
			fp.elems = append(fp.elems, frameElems{name: name, isMap: kind == "map"})
			el = &fp.elems[len(fp.elems)-1]
		}
		for i++; i < len(lines) && lines[i] != "\t}"; i++ {
			parts := []string{strings.TrimSpace(lines[i])}
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t\t\t") {
				i++
				parts = append(parts, strings.TrimSpace(lines[i]))
			}
			stmt := strings.Join(parts, " ") // not +=: a map of a thousand elements
			if rest, ok := strings.CutPrefix(stmt, "elements = {"); ok {
				if el != nil {
					for _, e := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
						if e = strings.TrimSpace(e); e != "" {
							el.elements = append(el.elements, e)
						}
					}
				}
				continue
			}
			if el != nil {
				base.WriteString("\t\t" + stmt + "\n")
			} else {
				decl = append(decl, stmt)
			}
		}
		if el != nil {
			base.WriteString("\t}\n")
		} else {
			fp.groupDecl[name] = strings.Join(decl, "; ")
		}
	}
	fp.base = base.String()
	return fp
}

// blockHead recognises the opening line of a set, map or chain block.
func blockHead(l string) (kind, name string, ok bool) {
	rest, ok := strings.CutPrefix(l, "\t")
	if !ok || !strings.HasSuffix(rest, " {") {
		return "", "", false
	}
	f := strings.Fields(strings.TrimSuffix(rest, " {"))
	if len(f) != 2 || !slices.Contains([]string{"set", "map", "chain"}, f[0]) {
		return "", "", false
	}
	return f[0], f[1], true
}

// elementKey is what deletes an element: a map's key, a set's element.
func elementKey(e string, isMap bool) string {
	if !isMap {
		return e
	}
	if i := strings.Index(e, " : "); i >= 0 {
		return e[:i]
	}
	return e
}
