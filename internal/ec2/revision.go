package ec2

import (
	"context"
	"fmt"

	"github.com/cachalot-dev/cachalot/internal/store"
)

// Revision is the store's current revision: a Topology read at this revision
// is still the network model as long as Revision has not moved. It lets
// readers keep a Topology between calls instead of copying the region again.
func (s *Service) Revision(ctx context.Context) (uint64, error) {
	var rev uint64
	if err := s.st.View(ctx, func(tx store.Tx) error {
		rev = tx.Revision()
		return nil
	}); err != nil {
		return 0, fmt.Errorf("read store revision: %w", err)
	}
	return rev, nil
}
