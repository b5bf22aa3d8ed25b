package ec2

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Instance consoles. Nothing boots, so an instance's console is what its
// user data printed: the instance controller (internal/instancectl) runs
// the script once, at launch, and writes its output here through
// StartConsole and WriteConsoleOutput; GetConsoleOutput returns it.

// ConsoleOutputMax is how much of a console the record keeps: the tail, as
// EC2 keeps the last 64 KiB.
const ConsoleOutputMax = 64 << 10

// consoleRecord is an instance's console output, kept under
// console/<account>/<region>/<instance>.
type consoleRecord struct {
	Output    string    // raw bytes of the script's stdout and stderr (tail)
	Timestamp time.Time // when the script finished
	Started   bool
}

func consoleKey(account, region, instance string) string {
	return store.Key("console", account, region, instance)
}

// ConsoleStarted reports whether the instance's console exists: its user
// data has been started (StartConsole), perhaps before a restart.
func (s *Service) ConsoleStarted(ctx context.Context, account, region, instance string) (bool, error) {
	var rec consoleRecord
	err := s.st.View(ctx, func(tx store.Tx) error { return store.GetJSON(tx, consoleKey(account, region, instance), &rec) })
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}

// StartConsole records that the instance's user data was started now; its
// console is empty until WriteConsoleOutput.
func (s *Service) StartConsole(ctx context.Context, account, region, instance string) error {
	return s.st.Update(ctx, func(tx store.Tx) error {
		return store.PutJSON(tx, consoleKey(account, region, instance), &consoleRecord{Started: true, Timestamp: s.now().UTC()})
	})
}

// WriteConsoleOutput sets the instance's console to the tail of out
// (ConsoleOutputMax bytes), timestamped now.
func (s *Service) WriteConsoleOutput(ctx context.Context, account, region, instance string, out []byte) error {
	if len(out) > ConsoleOutputMax {
		out = out[len(out)-ConsoleOutputMax:]
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		return store.PutJSON(tx, consoleKey(account, region, instance), &consoleRecord{Started: true, Output: string(out), Timestamp: s.now().UTC()})
	})
}

// UserData returns the instance's user data, decoded from base64 (as given
// when it is not base64); nil when it has none.
func (s *Service) UserData(ctx context.Context, account, region, instance string) ([]byte, error) {
	var data string
	err := s.view(ctx, scope{account, region}, func(_ *txn, st *scopeTx) error {
		i, err := lookup[*instanceRec](st, "instance", instance)
		if err != nil {
			return err
		}
		data = i.UserData
		return nil
	})
	if err != nil || data == "" {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return []byte(data), nil
	}
	return b, nil
}

// GetConsoleOutput implements ec2api.Operations: what the instance's user
// data printed (base64), as EC2 returns the console.
func (s *Service) GetConsoleOutput(ctx context.Context, in *ec2api.GetConsoleOutputRequest) (*ec2api.GetConsoleOutputResult, error) {
	sc := scopeOf(ctx)
	id := str(in.InstanceId)
	if err := s.view(ctx, sc, func(_ *txn, st *scopeTx) error {
		_, err := lookup[*instanceRec](st, "instance", id)
		return err
	}); err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	var rec consoleRecord
	err := s.st.View(ctx, func(tx store.Tx) error { return store.GetJSON(tx, consoleKey(sc.Account, sc.Region, id), &rec) })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	out := &ec2api.GetConsoleOutputResult{InstanceId: ptr(id)}
	if !rec.Timestamp.IsZero() {
		t := rec.Timestamp
		out.Timestamp = &t
		out.Output = ptr(base64.StdEncoding.EncodeToString([]byte(rec.Output)))
	}
	return out, nil
}
