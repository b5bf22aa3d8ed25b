package elasticache

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Serverless cache snapshots are not taken by Cachalot yet. The operations
// answer consistently with that, in AWS's vocabulary: there is no
// serverless snapshot, so describing lists none (an unknown cache is still
// ServerlessCacheNotFound), naming one is ServerlessCacheSnapshotNotFound,
// and creating one is refused with InvalidParameterValue saying so (after
// the cache's existence and state are checked, as AWS checks them).

// errNoServerlessSnapshots is the refusal of a new serverless snapshot.
func errNoServerlessSnapshots() error {
	return invalid("Serverless cache snapshots are not supported by Cachalot yet.")
}

func serverlessSnapshotNotFound(name string) error {
	return elasticacheapi.ErrServerlessCacheSnapshotNotFoundFault("Serverless cache snapshot %s not found.", name)
}

// CreateServerlessCacheSnapshot checks the cache, then refuses.
func (s *Service) CreateServerlessCacheSnapshot(ctx context.Context, in *elasticacheapi.CreateServerlessCacheSnapshotRequest) (*elasticacheapi.CreateServerlessCacheSnapshotResponse, error) {
	scope := auth.ScopeFrom(ctx)
	if err := checkIdentifier("ServerlessCacheSnapshotName", strings.ToLower(aws.ToString(in.ServerlessCacheSnapshotName)), 255); err != nil {
		return nil, err
	}
	err := s.st.View(ctx, func(tx store.Tx) error {
		g, err := getServerless(tx, scope, aws.ToString(in.ServerlessCacheName))
		if err != nil {
			return err
		}
		if g.Status != GroupAvailable {
			return elasticacheapi.ErrInvalidServerlessCacheStateFault("Serverless cache %s is not in the available state (it is %s).", g.Serverless.Name, g.Status)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return nil, errNoServerlessSnapshots()
}

// DescribeServerlessCacheSnapshots lists none.
func (s *Service) DescribeServerlessCacheSnapshots(ctx context.Context, in *elasticacheapi.DescribeServerlessCacheSnapshotsRequest) (*elasticacheapi.DescribeServerlessCacheSnapshotsResponse, error) {
	scope := auth.ScopeFrom(ctx)
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 50) {
		return nil, invalid("Invalid value for MaxResults: %d. Valid values are between 1 and 50.", *in.MaxResults)
	}
	switch t := aws.ToString(in.SnapshotType); t {
	case "", "automated", "manual":
	default:
		return nil, invalid("Invalid value for SnapshotType: %s. Valid values are automated and manual.", t)
	}
	if name := aws.ToString(in.ServerlessCacheName); name != "" {
		err := s.st.View(ctx, func(tx store.Tx) error {
			_, err := getServerless(tx, scope, name)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if name := aws.ToString(in.ServerlessCacheSnapshotName); name != "" {
		return nil, serverlessSnapshotNotFound(name)
	}
	return &elasticacheapi.DescribeServerlessCacheSnapshotsResponse{ServerlessCacheSnapshots: []elasticacheapi.ServerlessCacheSnapshot{}}, nil
}

// CopyServerlessCacheSnapshot: there is no source.
func (s *Service) CopyServerlessCacheSnapshot(ctx context.Context, in *elasticacheapi.CopyServerlessCacheSnapshotRequest) (*elasticacheapi.CopyServerlessCacheSnapshotResponse, error) {
	return nil, serverlessSnapshotNotFound(aws.ToString(in.SourceServerlessCacheSnapshotName))
}

// DeleteServerlessCacheSnapshot: there is none to delete.
func (s *Service) DeleteServerlessCacheSnapshot(ctx context.Context, in *elasticacheapi.DeleteServerlessCacheSnapshotRequest) (*elasticacheapi.DeleteServerlessCacheSnapshotResponse, error) {
	return nil, serverlessSnapshotNotFound(aws.ToString(in.ServerlessCacheSnapshotName))
}

// ExportServerlessCacheSnapshot: there is none to export.
func (s *Service) ExportServerlessCacheSnapshot(ctx context.Context, in *elasticacheapi.ExportServerlessCacheSnapshotRequest) (*elasticacheapi.ExportServerlessCacheSnapshotResponse, error) {
	return nil, serverlessSnapshotNotFound(aws.ToString(in.ServerlessCacheSnapshotName))
}
