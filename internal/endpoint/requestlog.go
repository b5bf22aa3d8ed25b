package endpoint

import (
	"context"
	"log/slog"
	"time"
)

// RequestRecord is what the endpoint tells of one answered request: who,
// what, and how it ended. It holds no secret: the principal is its ARN,
// never its key, and no parameter value is kept.
type RequestRecord struct {
	RequestID string
	Account   string // "" when the caller was not authenticated
	Principal string // the caller's ARN; "" when not authenticated
	Service   string // the signing name: elasticache, ec2, iam, sts; "" when unscoped
	Action    string
	Status    int           // HTTP status
	Code      string        // AWS error code; "" on success
	Latency   time.Duration // from the request's arrival to its answer written
}

// logRequest writes the one line per request, at info, and tells the
// observer.
func (h *Handler) logRequest(c *call, status int) {
	rec := RequestRecord{RequestID: c.id, Account: c.account, Principal: c.caller, Action: c.action,
		Status: status, Code: c.code, Latency: time.Since(c.start)}
	if c.binding != nil {
		rec.Service = c.binding.Service.SigningName
	}
	if h.cfg.Observe != nil {
		h.cfg.Observe(rec)
	}
	ctx := context.Background()
	if !h.cfg.Logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	h.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("request_id", rec.RequestID),
		slog.String("account", rec.Account),
		slog.String("principal", rec.Principal),
		slog.String("service", rec.Service),
		slog.String("action", rec.Action),
		slog.Int("status", rec.Status),
		slog.String("code", rec.Code),
		slog.Duration("latency", rec.Latency))
}
