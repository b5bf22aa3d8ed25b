package app

import (
	"context"

	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

// refusing returns ops with refuse called before every operation runs:
// the services' "no silent parameter" refusals (ec2.RefuseParams,
// elasticache.RefuseParams), answered before anything is read or written.
func refusing(ops map[string]awsproto.Operation, refuse func(op string, in any) error) map[string]awsproto.Operation {
	for name, op := range ops {
		call := op.Call
		op.Call = func(ctx context.Context, in any) (any, error) {
			if in != nil {
				if err := refuse(name, in); err != nil {
					return nil, err
				}
			}
			return call(ctx, in)
		}
		ops[name] = op
	}
	return ops
}
