package memcached

import (
	"context"
	"fmt"
	"strings"
)

// Stats runs "stats" and returns its STAT lines as name → value.
func (m *Conn) Stats(ctx context.Context) (map[string]string, error) {
	l, err := m.roundTrip(ctx, "stats\r\n")
	out := map[string]string{}
	for ; err == nil && l != "END"; l, err = m.line() {
		rest, ok := strings.CutPrefix(l, "STAT ")
		if !ok {
			return nil, fmt.Errorf("stats: unexpected reply %q", l)
		}
		k, v, _ := strings.Cut(rest, " ")
		out[k] = v
	}
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return out, nil
}

func (m *Conn) line() (string, error) {
	l, err := m.r.ReadString('\n')
	return strings.TrimRight(l, "\r\n"), err
}
