package identity

import "strconv"

// Drop is how a program is confined when it starts: the argv prefix that
// execs it in place (same pid) after dropping to an identity, with
// setpriv(1) from util-linux.
type Drop struct {
	// Setpriv is the setpriv binary; "" means no confinement at all
	// (argv is returned unchanged).
	Setpriv string
	// ID is the identity to run as; nil keeps the caller's (a daemon not
	// running as root cannot switch), and only no_new_privs is set.
	ID *ID
}

// Argv returns argv (program first) run through the drop: as ID's uid and
// gid with no supplementary groups, no capabilities (inheritable, ambient
// and bounding sets cleared; the permitted and effective sets empty
// themselves when every uid leaves 0), and no_new_privs, so no setuid
// binary or file capability can give anything back.
func (d Drop) Argv(argv []string) []string {
	if d.Setpriv == "" {
		return argv
	}
	out := []string{d.Setpriv}
	if d.ID != nil {
		out = append(out,
			"--reuid="+strconv.FormatUint(uint64(d.ID.UID), 10),
			"--regid="+strconv.FormatUint(uint64(d.ID.GID), 10),
			"--clear-groups", "--inh-caps=-all", "--bounding-set=-all")
	}
	out = append(out, "--no-new-privs", "--")
	return append(out, argv...)
}
