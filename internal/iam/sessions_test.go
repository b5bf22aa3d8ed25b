package iam

import (
	"testing"
	"time"
)

func TestSameEntity(t *testing.T) {
	issued := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		wantID   string
		id       string
		created  time.Time
		sameUser bool
	}{
		{"same id", "AIDAOLD", "AIDAOLD", issued.Add(-time.Hour), true},
		{"other id", "AIDAOLD", "AIDANEW", issued.Add(-time.Hour), false},
		{"other id, even created before", "AIDAOLD", "AIDANEW", issued.Add(-48 * time.Hour), false},
		// Sessions stored before they kept the id: the entity must be
		// older than the session.
		{"old record, entity older", "", "AIDAANY", issued.Add(-time.Hour), true},
		{"old record, entity created at issue", "", "AIDAANY", issued, true},
		{"old record, entity newer", "", "AIDANEW", issued.Add(time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameEntity(tt.wantID, issued, tt.id, tt.created); got != tt.sameUser {
				t.Errorf("sameEntity(%q, %v, %q, %v) = %v, want %v", tt.wantID, issued, tt.id, tt.created, got, tt.sameUser)
			}
		})
	}
}
