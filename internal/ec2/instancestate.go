package ec2

import (
	"context"
	"slices"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Instance state changes: start, stop, terminate, reboot, and the status
// checks DescribeInstanceStatus reports.

// changeState applies a state change to instances; fn returns the state
// answered and the one stored, or an error.
func (s *Service) changeState(ctx context.Context, ids []string, dry *bool, fn func(t *txn, st *scopeTx, i *instanceRec) (string, string, error)) ([]ec2api.InstanceStateChange, error) {
	if len(ids) == 0 {
		return nil, awserr.MissingParameter("InstanceId")
	}
	var out []ec2api.InstanceStateChange
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		if _, err := instancesByIDs(st, ids); err != nil {
			return err
		}
		if err := dryRun(dry); err != nil {
			return err
		}
		for _, id := range ids {
			i := mut[*instanceRec](st, id)
			prev := i.State
			shown, stored, err := fn(t, st, i)
			if err != nil {
				return err
			}
			i.State = stored
			out = append(out, ec2api.InstanceStateChange{InstanceId: ptr(id), PreviousState: stateOf(prev), CurrentState: stateOf(shown)})
		}
		return nil
	})
	return out, err
}

// TerminateInstances implements ec2api.Operations.
func (s *Service) TerminateInstances(ctx context.Context, in *ec2api.TerminateInstancesRequest) (*ec2api.TerminateInstancesResult, error) {
	if len(in.InstanceIds) == 0 {
		return nil, awserr.InvalidParameterCombination("No instances specified")
	}
	out, err := s.changeState(ctx, in.InstanceIds, in.DryRun, func(t *txn, st *scopeTx, i *instanceRec) (string, string, error) {
		if i.State == "terminated" {
			return "terminated", "terminated", nil
		}
		if i.Attrs.DisableTerm {
			return "", "", errOperationNotPermitted("The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", i.ID)
		}
		t.terminateVolumes(st, i)
		for _, eid := range i.ENIs {
			e := mut[*eniRec](st, eid)
			if e == nil {
				continue
			}
			t.releasePublicIP(e)
			if e.DeleteOnTerm {
				t.deleteENI(st, e)
			} else {
				e.InstanceID, e.AttachmentID, e.DeviceIndex = "", "", 0
			}
		}
		i.TerminatedAt = t.now
		return "shutting-down", "terminated", nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.TerminateInstancesResult{TerminatingInstances: out}, nil
}

// StopInstances implements ec2api.Operations.
func (s *Service) StopInstances(ctx context.Context, in *ec2api.StopInstancesRequest) (*ec2api.StopInstancesResult, error) {
	out, err := s.changeState(ctx, in.InstanceIds, in.DryRun, func(t *txn, st *scopeTx, i *instanceRec) (string, string, error) {
		switch i.State {
		case "terminated", "shutting-down":
			return "", "", errIncorrectInstanceState("This instance '%s' is not in a state from which it can be stopped.", i.ID)
		case "stopped":
			return "stopped", "stopped", nil
		}
		if isTrue(in.Hibernate) && !i.Attrs.Hibernate {
			return "", "", errUnsupportedOperation("The instance '%s' was not launched with hibernation configured (parameter Hibernate).", i.ID)
		}
		if i.Attrs.DisableStop {
			return "", "", errOperationNotPermitted("The instance '%s' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.", i.ID)
		}
		i.Attrs.StoppedAt = t.now
		for _, eid := range i.ENIs {
			if e := mut[*eniRec](st, eid); e != nil {
				t.releasePublicIP(e)
			}
		}
		return "stopping", "stopped", nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.StopInstancesResult{StoppingInstances: out}, nil
}

// StartInstances implements ec2api.Operations.
func (s *Service) StartInstances(ctx context.Context, in *ec2api.StartInstancesRequest) (*ec2api.StartInstancesResult, error) {
	out, err := s.changeState(ctx, in.InstanceIds, in.DryRun, func(t *txn, st *scopeTx, i *instanceRec) (string, string, error) {
		switch i.State {
		case "terminated", "shutting-down", "stopping":
			return "", "", errIncorrectInstanceState("The instance '%s' is not in a state from which it can be started.", i.ID)
		case "running":
			return "running", "running", nil
		}
		i.Attrs.StoppedAt = time.Time{}
		for _, eid := range i.ENIs {
			if e := mut[*eniRec](st, eid); e != nil {
				if err := t.assignPublicIP(st, e); err != nil {
					return "", "", err
				}
			}
		}
		return "pending", "running", nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.StartInstancesResult{StartingInstances: out}, nil
}

// RebootInstances implements ec2api.Operations. The reboot is recorded
// (the count the instance controller may act on); the state stays running.
func (s *Service) RebootInstances(ctx context.Context, in *ec2api.RebootInstancesRequest) error {
	if len(in.InstanceIds) == 0 {
		return awserr.MissingParameter("InstanceId")
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		recs, err := instancesByIDs(st, in.InstanceIds)
		if err != nil {
			return err
		}
		for _, i := range recs {
			if i.State == "terminated" || i.State == "shutting-down" {
				return errIncorrectInstanceState("The instance '%s' is not in a state from which it can be rebooted.", i.ID)
			}
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		for _, i := range recs {
			if i.State == "running" {
				mut[*instanceRec](st, i.ID).Attrs.Reboots++
			}
		}
		return nil
	})
}

// statusOf is the status checks of an instance: a running instance passes
// both at once (nothing can fail underneath a record); the others have
// none.
func statusOf(state string) (status string, details []ec2api.InstanceStatusDetails) {
	if state != "running" {
		return "not-applicable", nil
	}
	return "ok", []ec2api.InstanceStatusDetails{{Name: ptr("reachability"), Status: ptr("passed")}}
}

var instanceStatusFilters = filterSet[*instanceRec]{fields: map[string]func(*instanceRec) []string{
	"availability-zone":   func(i *instanceRec) []string { return one(i.AZ) },
	"instance-state-name": func(i *instanceRec) []string { return one(i.State) },
	"instance-state-code": func(i *instanceRec) []string { return one(itoa(stateCodes[i.State])) },
	"instance-status.status": func(i *instanceRec) []string {
		st, _ := statusOf(i.State)
		return one(st)
	},
	"instance-status.reachability": func(i *instanceRec) []string { return reachability(i.State) },
	"system-status.status": func(i *instanceRec) []string {
		st, _ := statusOf(i.State)
		return one(st)
	},
	"system-status.reachability":       func(i *instanceRec) []string { return reachability(i.State) },
	"attached-ebs-status.status":       func(i *instanceRec) []string { st, _ := statusOf(i.State); return one(st) },
	"attached-ebs-status.reachability": func(i *instanceRec) []string { return reachability(i.State) },
	"event.code":                       func(i *instanceRec) []string { return nil },
	"event.description":                func(i *instanceRec) []string { return nil },
	"event.instance-event-id":          func(i *instanceRec) []string { return nil },
	"event.not-after":                  func(i *instanceRec) []string { return nil },
	"event.not-before":                 func(i *instanceRec) []string { return nil },
	"event.not-before-deadline":        func(i *instanceRec) []string { return nil },
	"operator.managed":                 func(i *instanceRec) []string { return boolStr(false) },
	"operator.principal":               func(i *instanceRec) []string { return nil },
	"availability-zone-id":             func(i *instanceRec) []string { return one(zoneID(i.AZ)) },
}}

func reachability(state string) []string {
	if state != "running" {
		return nil
	}
	return one("passed")
}

// DescribeInstanceStatus implements ec2api.Operations: running instances,
// or every instance with IncludeAllInstances, as AWS lists them.
func (s *Service) DescribeInstanceStatus(ctx context.Context, in *ec2api.DescribeInstanceStatusRequest) (*ec2api.DescribeInstanceStatusResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	if len(in.InstanceIds) > 0 && in.MaxResults != nil {
		return nil, awserr.InvalidParameterCombination("The parameter instancesSet cannot be used with the parameter maxResults")
	}
	all := in.IncludeAllInstances != nil && *in.IncludeAllInstances
	out := &ec2api.DescribeInstanceStatusResult{InstanceStatuses: []ec2api.InstanceStatus{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		recs, err := instancesByIDs(st, in.InstanceIds)
		if err != nil {
			return err
		}
		if !all {
			recs = slices.DeleteFunc(slices.Clone(recs), func(i *instanceRec) bool { return i.State != "running" })
		}
		recs, err = filterItems(instanceStatusFilters, in.Filters, recs)
		if err != nil {
			return err
		}
		page, next, err := paginate(recs, func(i *instanceRec) string { return i.ID }, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, i := range page {
			status, details := statusOf(i.State)
			sum := func() *ec2api.InstanceStatusSummary {
				return &ec2api.InstanceStatusSummary{Status: ptr(status), Details: details}
			}
			ebs := &ec2api.EbsStatusSummary{Status: ptr(status)}
			if details != nil {
				ebs.Details = []ec2api.EbsStatusDetails{{Name: ptr("reachability"), Status: ptr("passed")}}
			}
			out.InstanceStatuses = append(out.InstanceStatuses, ec2api.InstanceStatus{AvailabilityZone: ptr(i.AZ), AvailabilityZoneId: ptr(zoneID(i.AZ)),
				InstanceId: ptr(i.ID), InstanceState: stateOf(i.State), InstanceStatus: sum(), SystemStatus: sum(), AttachedEbsStatus: ebs,
				Events: []ec2api.InstanceStatusEvent{}})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
