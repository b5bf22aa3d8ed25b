package imds

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

// The metadata tree. A directory lists its entries one per line, those
// that are directories with a trailing slash; a leaf is its value.

// lookup returns the body, content type and status of path for m.
func (s *Server) lookup(ctx context.Context, m *ec2.Metadata, tree map[string]string, path string) ([]byte, string, int) {
	text := func(v string) ([]byte, string, int) { return []byte(v), "text/plain", http.StatusOK }
	switch {
	case path == "/" || path == "":
		return text("latest")
	case trimDir(path) == "/latest":
		entries := []string{"dynamic", "meta-data"}
		if m.UserData != nil {
			entries = append(entries, "user-data")
		}
		return text(strings.Join(entries, "\n"))
	case path == "/latest/user-data":
		if m.UserData == nil {
			return nil, "", http.StatusNotFound
		}
		return m.UserData, "application/octet-stream", http.StatusOK
	case trimDir(path) == "/latest/dynamic":
		return text("instance-identity/")
	case trimDir(path) == "/latest/dynamic/instance-identity":
		return text("document")
	case path == "/latest/dynamic/instance-identity/document":
		return jsonBody(identityDocument(m))
	}
	rest, ok := strings.CutPrefix(path, "/latest/meta-data")
	if !ok {
		return nil, "", http.StatusNotFound
	}
	rest = strings.TrimPrefix(rest, "/")
	if strings.HasPrefix(rest, "iam") {
		return s.iam(ctx, m, strings.TrimPrefix(rest, "iam"))
	}
	if strings.HasPrefix(rest, "public-keys") {
		return publicKeys(m, strings.TrimPrefix(rest, "public-keys"))
	}
	if rest == "" {
		l := listing(tree, "")
		if m.PublicKey != "" {
			l = strings.Replace(l, "\nplacement/", "\nplacement/\npublic-keys/", 1)
		}
		return text(l)
	}
	if v, ok := tree[trimDir(rest)]; ok && !strings.HasSuffix(rest, "/") {
		return text(v)
	}
	if l := listing(tree, trimDir(rest)+"/"); l != "" {
		return text(l)
	}
	return nil, "", http.StatusNotFound
}

// publicKeys answers public-keys/…: the instance's key pair as index 0,
// listed as 0=<name>, as EC2 does.
func publicKeys(m *ec2.Metadata, rest string) ([]byte, string, int) {
	if m.PublicKey == "" {
		return nil, "", http.StatusNotFound
	}
	text := func(v string) ([]byte, string, int) { return []byte(v), "text/plain", http.StatusOK }
	switch rest {
	case "", "/":
		return text("0=" + m.KeyName)
	case "/0", "/0/":
		return text("openssh-key")
	case "/0/openssh-key":
		return text(strings.TrimSpace(m.PublicKey) + "\n")
	}
	return nil, "", http.StatusNotFound
}

// metaTree returns the leaves of latest/meta-data (but iam/), by path.
func metaTree(m *ec2.Metadata) map[string]string {
	t := map[string]string{
		"ami-id":                         m.ImageID,
		"ami-launch-index":               strconv.Itoa(int(m.LaunchIndex)),
		"ami-manifest-path":              "(unknown)",
		"block-device-mapping/ami":       "/dev/xvda",
		"block-device-mapping/root":      "/dev/xvda",
		"hostname":                       m.Hostname,
		"instance-action":                "none",
		"instance-id":                    m.InstanceID,
		"instance-life-cycle":            "on-demand",
		"instance-type":                  m.InstanceType,
		"local-hostname":                 m.Hostname,
		"local-ipv4":                     m.PrivateIP,
		"mac":                            m.MAC,
		"placement/availability-zone":    m.AZ,
		"placement/availability-zone-id": m.AZID,
		"placement/region":               m.Region,
		"profile":                        "default-hvm",
		"reservation-id":                 m.ReservationID,
		"security-groups":                strings.Join(m.GroupNames, "\n"),
		"services/domain":                "amazonaws.com",
		"services/partition":             "aws",
		"system":                         "nitro",
	}
	if m.PublicIP != "" {
		t["public-ipv4"] = m.PublicIP
		t["public-hostname"] = m.PublicHostname
	}
	if m.MAC != "" {
		mac := "network/interfaces/macs/" + m.MAC + "/"
		for k, v := range map[string]string{
			"device-number": "0", "interface-id": m.InterfaceID, "local-hostname": m.Hostname, "local-ipv4s": m.PrivateIP,
			"mac": m.MAC, "owner-id": m.Account, "security-group-ids": strings.Join(m.GroupIDs, "\n"),
			"security-groups": strings.Join(m.GroupNames, "\n"), "subnet-id": m.SubnetID, "subnet-ipv4-cidr-block": m.SubnetCIDR,
			"vpc-id": m.VpcID, "vpc-ipv4-cidr-block": m.VpcCIDR, "vpc-ipv4-cidr-blocks": m.VpcCIDR,
		} {
			t[mac+k] = v
		}
		if m.PublicIP != "" {
			t[mac+"public-ipv4s"] = m.PublicIP
		}
	}
	for k, v := range m.Tags {
		if k != "" && !strings.Contains(k, "/") {
			t["tags/instance/"+k] = v
		}
	}
	return t
}

// listing lists the entries of tree directly under dir ("" for the top),
// sorted; "" when there are none.
func listing(tree map[string]string, dir string) string {
	seen := map[string]bool{}
	var out []string
	for k := range tree {
		rest, ok := strings.CutPrefix(k, dir)
		if !ok || rest == "" {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		if !seen[rest] {
			seen[rest] = true
			out = append(out, rest)
		}
	}
	if dir == "" {
		out = append(out, "iam/") // listed always; 404 inside without a profile
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// identityDocument is the instance identity document, as EC2 writes it.
func identityDocument(m *ec2.Metadata) any {
	return struct {
		AccountID               string   `json:"accountId"`
		Architecture            string   `json:"architecture"`
		AvailabilityZone        string   `json:"availabilityZone"`
		BillingProducts         []string `json:"billingProducts"`
		DevpayProductCodes      []string `json:"devpayProductCodes"`
		MarketplaceProductCodes []string `json:"marketplaceProductCodes"`
		ImageID                 string   `json:"imageId"`
		InstanceID              string   `json:"instanceId"`
		InstanceType            string   `json:"instanceType"`
		KernelID                *string  `json:"kernelId"`
		PendingTime             string   `json:"pendingTime"`
		PrivateIP               string   `json:"privateIp"`
		RamdiskID               *string  `json:"ramdiskId"`
		Region                  string   `json:"region"`
		Version                 string   `json:"version"`
	}{AccountID: m.Account, Architecture: m.Architecture, AvailabilityZone: m.AZ, ImageID: m.ImageID, InstanceID: m.InstanceID,
		InstanceType: m.InstanceType, PendingTime: m.LaunchTime.UTC().Format(time.RFC3339), PrivateIP: m.PrivateIP, Region: m.Region,
		Version: "2017-09-30"}
}

func jsonBody(v any) ([]byte, string, int) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, "", http.StatusInternalServerError
	}
	return b, "text/plain", http.StatusOK
}

// iam answers latest/meta-data/iam/…: 404 without an instance profile.
func (s *Server) iam(ctx context.Context, m *ec2.Metadata, rest string) ([]byte, string, int) {
	p := m.Profile
	if p == nil || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return nil, "", http.StatusNotFound
	}
	rest = strings.TrimPrefix(rest, "/")
	role, ok, err := s.cfg.Roles.ProfileRole(ctx, m.Account, p.Name, p.ID)
	if err != nil {
		s.log.Warn("metadata: role of instance profile", "instance", m.InstanceID, "profile", p.ARN, "err", err)
		return nil, "", http.StatusInternalServerError
	}
	now := s.cfg.Now().UTC()
	switch rest {
	case "":
		if ok && role != "" {
			return []byte("info\nsecurity-credentials/"), "text/plain", http.StatusOK
		}
		return []byte("info"), "text/plain", http.StatusOK
	case "info":
		if !ok {
			return jsonBody(struct {
				Code        string
				Message     string
				LastUpdated string
			}{"InstanceProfileNotFound", "Instance profile " + p.ARN + " not found.", now.Format(time.RFC3339)})
		}
		return jsonBody(struct {
			Code               string
			LastUpdated        string
			InstanceProfileArn string
			InstanceProfileId  string
		}{"Success", now.Format(time.RFC3339), p.ARN, p.ID})
	}
	if !ok || role == "" {
		return nil, "", http.StatusNotFound
	}
	switch trimDir(rest) {
	case "security-credentials":
		return []byte(role), "text/plain", http.StatusOK
	case "security-credentials/" + role:
		return s.roleCredentials(ctx, m, p, role)
	}
	return nil, "", http.StatusNotFound
}

// roleCredentials answers security-credentials/<role>: the cached
// credentials of the instance's association, new ones when there are
// none or they expire within RotateBefore.
func (s *Server) roleCredentials(ctx context.Context, m *ec2.Metadata, p *ec2.MetadataProfile, role string) ([]byte, string, int) {
	key := m.Account + "/" + m.Region + "/" + m.InstanceID
	now := s.cfg.Now().UTC()
	cached := func() *credEntry {
		s.mu.Lock()
		defer s.mu.Unlock()
		e := s.creds[key]
		if e == nil || e.assoc != p.AssociationID || e.role != role || now.After(e.c.Expires.Add(-s.cfg.RotateBefore)) {
			return nil
		}
		return e
	}
	e := cached()
	if e == nil {
		s.issue.Lock()
		defer s.issue.Unlock()
		e = cached()
	}
	if e == nil {
		c, err := s.cfg.Roles.RoleCredentials(ctx, m.Account, role, m.InstanceID, s.cfg.CredentialTTL)
		if errors.Is(err, ErrCannotAssume) {
			return jsonBody(struct {
				Code        string
				Message     string
				LastUpdated string
			}{"AssumeRoleUnauthorizedAccess", "EC2 cannot assume the role " + role + ". Please see documentation at https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html#roles-usingrole-ec2instance-roles.",
				now.Format(time.RFC3339)})
		}
		if err != nil {
			s.log.Warn("metadata: credentials of instance role", "instance", m.InstanceID, "role", role, "err", err)
			return nil, "", http.StatusInternalServerError
		}
		e = &credEntry{assoc: p.AssociationID, role: role, c: c, updated: now}
		s.mu.Lock()
		s.creds[key] = e
		s.mu.Unlock()
	}
	return jsonBody(struct {
		Code            string
		LastUpdated     string
		Type            string
		AccessKeyId     string
		SecretAccessKey string
		Token           string
		Expiration      string
	}{"Success", e.updated.Format(time.RFC3339), "AWS-HMAC", e.c.AccessKeyID, e.c.SecretAccessKey, e.c.Token,
		e.c.Expires.UTC().Format(time.RFC3339)})
}
