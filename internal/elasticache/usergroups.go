package elasticache

// User groups (users.go has the users and the design): the API, and the
// ACL a replication group's engines get from its user group.

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// attachedGroups returns the replication groups of a scope that use user
// group ug (a serverless cache's group among them).
func attachedGroups(tx store.Tx, account, region, ug string) ([]*ReplicationGroup, error) {
	var out []*ReplicationGroup
	err := store.ScanJSON(tx, store.Key("elasticache", account, region, "replicationgroup")+"/", func(_ string, g *ReplicationGroup) error {
		if g.UserGroupID == ug {
			out = append(out, g)
		}
		return nil
	})
	return out, err
}

// userGroupStatus is a group's status: modifying while the engines of a
// replication group using it take a change, active otherwise.
func userGroupStatus(tx store.Tx, ug *UserGroup) string {
	rgs, err := attachedGroups(tx, ug.Account, ug.Region, ug.ID)
	if err != nil {
		return UserActive
	}
	for _, g := range rgs {
		members, err := groupMembers(tx, g)
		if err != nil {
			continue
		}
		for _, c := range members {
			if !slices.EqualFunc(c.ACL, g.ACL, equalACLUser) || (c.Status == StatusModifying && c.ACLPending) {
				return UserModifying
			}
		}
	}
	return UserActive
}

func equalACLUser(a, b ACLUser) bool {
	return a.Name == b.Name && a.IAM == b.IAM && slices.Equal(a.Rules, b.Rules)
}

// groupACL is the ACL of the engines of a replication group using ug: one
// entry per user, the default user first.
func groupACL(tx store.Tx, scope auth.Scope, ug *UserGroup) ([]ACLUser, error) {
	var out []ACLUser
	for _, id := range ug.UserIDs {
		u, err := getUser(tx, scope, id)
		if err != nil {
			return nil, err
		}
		out = append(out, aclUser(u))
	}
	slices.SortStableFunc(out, func(a, b ACLUser) int {
		switch {
		case a.Name == defaultUserName && b.Name != defaultUserName:
			return -1
		case b.Name == defaultUserName && a.Name != defaultUserName:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// setGroupACL gives g and its members acl; members whose ACL changes are
// modifying until the cache controller applied it.
func setGroupACL(tx store.Tx, g *ReplicationGroup, acl []ACLUser) error {
	g.ACL, g.PendingUserGroups = acl, nil
	members, err := groupMembers(tx, g)
	if err != nil {
		return err
	}
	changed := false
	for _, c := range members {
		if c.Status == StatusDeleting || slices.EqualFunc(c.ACL, acl, equalACLUser) {
			continue
		}
		c.ACL = slices.Clone(acl)
		c.ACLPending = true
		if c.Status == StatusAvailable {
			c.Status = StatusModifying
		}
		c.Generation++
		changed = true
		if err := putCluster(tx, c); err != nil {
			return err
		}
	}
	if changed && g.Status == GroupAvailable {
		g.Status = GroupModifying
		g.Generation++
	}
	return putGroup(tx, g)
}

// refreshACLOfUserGroup recomputes the ACL of every replication group
// using ug.
func refreshACLOfUserGroup(tx store.Tx, scope auth.Scope, ug *UserGroup) error {
	rgs, err := attachedGroups(tx, scope.AccountID, scope.Region, ug.ID)
	if err != nil || len(rgs) == 0 {
		return err
	}
	acl, err := groupACL(tx, scope, ug)
	if err != nil {
		return err
	}
	for _, g := range rgs {
		if err := setGroupACL(tx, g, acl); err != nil {
			return err
		}
	}
	return nil
}

// refreshACLOfUser recomputes the ACL of the replication groups whose user
// group holds (or held, groups read before a removal) user id.
func (s *Service) refreshACLOfUser(tx store.Tx, scope auth.Scope, groups []*UserGroup, id string) error {
	for _, g := range groups {
		cur, err := getUserGroup(tx, scope, g.ID)
		if err != nil {
			return err
		}
		if !slices.Contains(g.UserIDs, id) && !slices.Contains(cur.UserIDs, id) && slices.Equal(g.UserIDs, cur.UserIDs) {
			continue
		}
		if cur.Pending != nil { // what the group modifies for now is a user's change
			cur.Pending = nil
			if err := store.PutJSON(tx, userGroupKey(cur.Account, cur.Region, cur.ID), cur); err != nil {
				return err
			}
		}
		if err := refreshACLOfUserGroup(tx, scope, cur); err != nil {
			return err
		}
	}
	return nil
}

func userGroupAPI(tx store.Tx, ug *UserGroup, status string) *elasticacheapi.UserGroup {
	scope := auth.Scope{AccountID: ug.Account, Region: ug.Region}
	out := &elasticacheapi.UserGroup{
		ARN:                  aws.String(ARN(scope, "usergroup", ug.ID)),
		UserGroupId:          aws.String(ug.ID),
		Engine:               aws.String(ug.Engine),
		MinimumEngineVersion: aws.String(minimumEngineVersion),
		UserIds:              slices.Clone(ug.UserIDs),
		ReplicationGroups:    []string{},
		ServerlessCaches:     []string{},
		Status:               aws.String(status),
	}
	if out.UserIds == nil {
		out.UserIds = []string{}
	}
	rgs, _ := attachedGroups(tx, ug.Account, ug.Region, ug.ID)
	for _, g := range rgs {
		if g.Serverless != nil {
			out.ServerlessCaches = append(out.ServerlessCaches, g.Serverless.Name)
		} else {
			out.ReplicationGroups = append(out.ReplicationGroups, g.ID)
		}
	}
	if status == "" {
		out.Status = aws.String(userGroupStatus(tx, ug))
	}
	if ug.Pending != nil && aws.ToString(out.Status) == UserModifying {
		out.PendingChanges = &elasticacheapi.UserGroupPendingChanges{UserIdsToAdd: ug.Pending.Add, UserIdsToRemove: ug.Pending.Remove}
	}
	return out
}

// checkGroupUsers applies AWS's rules to a group's users: they exist,
// no user name twice, one of them named default.
func checkGroupUsers(tx store.Tx, scope auth.Scope, ids []string) error {
	if len(ids) > maxUsersPerGroup {
		return invalid("A user group can have at most %d users.", maxUsersPerGroup)
	}
	names := map[string]string{}
	for _, id := range ids {
		u, err := getUser(tx, scope, id)
		if err != nil {
			return err
		}
		if prev, ok := names[u.Name]; ok {
			return elasticacheapi.ErrDuplicateUserNameFault("Users %s and %s have the same user name %s; the user names of a user group must be unique.", prev, id, u.Name)
		}
		names[u.Name] = id
	}
	if _, ok := names[defaultUserName]; !ok {
		return elasticacheapi.ErrDefaultUserRequired("User group needs to contain a user with the user name default.")
	}
	return nil
}

func dedupe(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// CreateUserGroup creates a user group.
func (s *Service) CreateUserGroup(ctx context.Context, in *elasticacheapi.CreateUserGroupMessage) (*elasticacheapi.UserGroup, error) {
	scope := auth.ScopeFrom(ctx)
	id := aws.ToString(in.UserGroupId)
	if err := checkIdentifier("UserGroupId", id, maxUserIDLen); err != nil {
		return nil, err
	}
	eng, err := userEngine(in.Engine)
	if err != nil {
		return nil, err
	}
	tags, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	ug := &UserGroup{Account: scope.AccountID, Region: scope.Region, ID: id, Engine: eng, UserIDs: dedupe(in.UserIds), Tags: tags}
	var out *elasticacheapi.UserGroup
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(userGroupKey(ug.Account, ug.Region, id)); err == nil {
			return elasticacheapi.ErrUserGroupAlreadyExistsFault("User group %s already exists.", id)
		}
		groups, err := scanUserGroups(tx, scope)
		if err != nil {
			return err
		}
		if len(groups) >= 100 {
			return elasticacheapi.ErrUserGroupQuotaExceededFault("The request cannot be processed because it would exceed the allowed number of user groups (100).")
		}
		if err := checkGroupUsers(tx, scope, ug.UserIDs); err != nil {
			return err
		}
		if err := store.PutJSON(tx, userGroupKey(ug.Account, ug.Region, id), ug); err != nil {
			return err
		}
		out = userGroupAPI(tx, ug, UserCreating)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("user group created", "account", scope.AccountID, "region", scope.Region, "usergroup", id)
	return out, nil
}

// ModifyUserGroup adds and removes users; the engines of the replication
// groups using it follow live.
func (s *Service) ModifyUserGroup(ctx context.Context, in *elasticacheapi.ModifyUserGroupMessage) (*elasticacheapi.UserGroup, error) {
	scope := auth.ScopeFrom(ctx)
	id := aws.ToString(in.UserGroupId)
	if in.Engine != nil {
		if _, err := userEngine(in.Engine); err != nil {
			return nil, err
		}
	}
	add, remove := dedupe(in.UserIdsToAdd), dedupe(in.UserIdsToRemove)
	for _, a := range add {
		if slices.Contains(remove, a) {
			return nil, combination("User %s cannot be both added to and removed from the user group.", a)
		}
	}
	if len(add) == 0 && len(remove) == 0 && in.Engine == nil {
		return nil, invalid("No modifications were requested.")
	}
	var out *elasticacheapi.UserGroup
	err := s.st.Update(ctx, func(tx store.Tx) error {
		ug, err := getUserGroup(tx, scope, id)
		if err != nil {
			return err
		}
		if userGroupStatus(tx, ug) != UserActive {
			return elasticacheapi.ErrInvalidUserGroupStateFault("User group %s is not in active state.", id)
		}
		for _, r := range remove {
			if !slices.Contains(ug.UserIDs, r) {
				return elasticacheapi.ErrUserNotFoundFault("User %s is not a member of user group %s.", r, id)
			}
		}
		ids := slices.DeleteFunc(slices.Clone(ug.UserIDs), func(x string) bool { return slices.Contains(remove, x) })
		for _, a := range add {
			if !slices.Contains(ids, a) {
				ids = append(ids, a)
			}
		}
		if err := checkGroupUsers(tx, scope, ids); err != nil {
			return err
		}
		ug.UserIDs, ug.Pending = ids, &IDChange{Add: add, Remove: remove}
		if in.Engine != nil {
			ug.Engine, _ = userEngine(in.Engine)
		}
		if err := store.PutJSON(tx, userGroupKey(ug.Account, ug.Region, id), ug); err != nil {
			return err
		}
		if err := refreshACLOfUserGroup(tx, scope, ug); err != nil {
			return err
		}
		out = userGroupAPI(tx, ug, "")
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("user group modified", "account", scope.AccountID, "region", scope.Region, "usergroup", id,
		"added", len(add), "removed", len(remove))
	return out, nil
}

// DeleteUserGroup deletes a user group no replication group uses.
func (s *Service) DeleteUserGroup(ctx context.Context, in *elasticacheapi.DeleteUserGroupMessage) (*elasticacheapi.UserGroup, error) {
	scope := auth.ScopeFrom(ctx)
	id := aws.ToString(in.UserGroupId)
	var out *elasticacheapi.UserGroup
	err := s.st.Update(ctx, func(tx store.Tx) error {
		ug, err := getUserGroup(tx, scope, id)
		if err != nil {
			return err
		}
		rgs, err := attachedGroups(tx, scope.AccountID, scope.Region, id)
		if err != nil {
			return err
		}
		if len(rgs) > 0 {
			if sv := rgs[0].Serverless; sv != nil {
				return elasticacheapi.ErrInvalidUserGroupStateFault("User group %s is associated with serverless cache %s and cannot be deleted.", id, sv.Name)
			}
			return elasticacheapi.ErrInvalidUserGroupStateFault("User group %s is associated with replication group %s and cannot be deleted.", id, rgs[0].ID)
		}
		out = userGroupAPI(tx, ug, UserDeleting)
		return tx.Delete(userGroupKey(ug.Account, ug.Region, id))
	})
	if err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("user group deleted", "account", scope.AccountID, "region", scope.Region, "usergroup", id)
	return out, nil
}

// DescribeUserGroups lists user groups, or the one named.
func (s *Service) DescribeUserGroups(ctx context.Context, in *elasticacheapi.DescribeUserGroupsMessage) (*elasticacheapi.DescribeUserGroupsResult, error) {
	scope := auth.ScopeFrom(ctx)
	id := aws.ToString(in.UserGroupId)
	var out []elasticacheapi.UserGroup
	err := s.st.View(ctx, func(tx store.Tx) error {
		if id != "" {
			ug, err := getUserGroup(tx, scope, id)
			if err != nil {
				return err
			}
			out = append(out, *userGroupAPI(tx, ug, ""))
			return nil
		}
		groups, err := scanUserGroups(tx, scope)
		if err != nil {
			return err
		}
		for _, ug := range groups {
			out = append(out, *userGroupAPI(tx, ug, ""))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	items, next, err := page(out, func(g elasticacheapi.UserGroup) string { return aws.ToString(g.UserGroupId) }, in.Marker, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []elasticacheapi.UserGroup{}
	}
	return &elasticacheapi.DescribeUserGroupsResult{UserGroups: items, Marker: next}, nil
}

// attachUserGroup validates a replication group's user group (create:
// UserGroupIds; at most one, in-transit encryption required, no AUTH
// token) and gives g its ACL.
func attachUserGroup(tx store.Tx, scope auth.Scope, g *ReplicationGroup, id string) error {
	if g.Engine == catalog.Redis && majorVersion(g.EngineVersion) < 6 {
		return invalid("User groups require Redis OSS engine version 6.0 or later; replication group %s runs %s.", g.ID, g.EngineVersion)
	}
	ug, err := getUserGroup(tx, scope, id)
	if err != nil {
		return err
	}
	if userGroupStatus(tx, ug) != UserActive {
		return elasticacheapi.ErrInvalidUserGroupStateFault("User group %s is not in active state.", id)
	}
	acl, err := groupACL(tx, scope, ug)
	if err != nil {
		return err
	}
	g.UserGroupID, g.ACL = ug.ID, acl
	return nil
}

// majorVersion is the major number of an engine version ("5.0.6": 5).
func majorVersion(v string) int {
	n := 0
	for _, r := range v {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// checkUserGroupIDs applies AWS's rules to a create request's user groups.
func checkUserGroupIDs(ids []string, transit string, authToken *string) (string, error) {
	switch {
	case len(ids) == 0:
		return "", nil
	case transit == "":
		return "", invalid("Encryption in transit must be enabled to use user groups.")
	case authToken != nil:
		return "", combination("AuthToken and UserGroupIds cannot be specified together: use either an AUTH token or role-based access control.")
	case len(ids) > 1:
		return "", invalid("A replication group can be associated with at most one user group.")
	}
	return ids[0], nil
}

// modifyGroupAccess applies ModifyReplicationGroup's access changes: the
// AUTH token (authtoken.go), or the user group (UserGroupIdsToAdd,
// UserGroupIdsToRemove, RemoveUserGroups) with AWS's rules: in-transit
// encryption, at most one group, and moving from an AUTH token to RBAC
// only with AuthTokenUpdateStrategy DELETE.
func (s *Service) modifyGroupAccess(tx store.Tx, scope auth.Scope, g *ReplicationGroup, members []*Cluster, in *elasticacheapi.ModifyReplicationGroupMessage) (bool, error) {
	add, remove, removeAll := dedupe(in.UserGroupIdsToAdd), dedupe(in.UserGroupIdsToRemove), aws.ToBool(in.RemoveUserGroups)
	strategy := aws.ToString(in.AuthTokenUpdateStrategy)
	g.PendingUserGroups = nil // the group is available: any earlier change is done
	if len(add) == 0 && len(remove) == 0 && !removeAll {
		if g.UserGroupID != "" && (in.AuthToken != nil || in.AuthTokenUpdateStrategy != nil) {
			return false, combination("Replication group %s uses role-based access control (user group %s): remove the user group to use an AUTH token.", g.ID, g.UserGroupID)
		}
		return s.modifyGroupAuth(g, members, in)
	}
	switch {
	case g.TransitEncryptionMode == "":
		return false, invalid("Encryption in transit must be enabled to use user groups.")
	case len(add) > 1:
		return false, invalid("A replication group can be associated with at most one user group.")
	case in.AuthToken != nil:
		return false, combination("AuthToken and UserGroupIdsToAdd cannot be specified together: use either an AUTH token or role-based access control.")
	case strategy != "" && strategy != TokenDelete:
		return false, combination("AuthTokenUpdateStrategy %s cannot be specified with user groups.", strategy)
	}
	for _, r := range remove {
		if r != g.UserGroupID {
			return false, invalid("User group %s is not associated with replication group %s.", r, g.ID)
		}
	}
	next := g.UserGroupID
	if removeAll || len(remove) > 0 {
		next = ""
	}
	if len(add) == 1 {
		if next != "" && next != add[0] {
			return false, invalid("A replication group can be associated with at most one user group: remove %s first.", next)
		}
		next = add[0]
	}
	switch {
	case next != "" && g.UserGroupID == "" && len(g.AuthTokens) > 0 && strategy != TokenDelete:
		return false, combination("To move replication group %s from an AUTH token to role-based access control, set AuthTokenUpdateStrategy to DELETE with UserGroupIdsToAdd.", g.ID)
	case strategy == TokenDelete && (next == "" || len(g.AuthTokens) == 0):
		return false, invalid("AuthTokenUpdateStrategy DELETE is only allowed when moving to role-based access control (UserGroupIdsToAdd).")
	}
	if next == g.UserGroupID {
		return false, nil
	}
	g.PendingUserGroups = &IDChange{}
	if next != "" {
		g.PendingUserGroups.Add = []string{next}
	}
	if g.UserGroupID != "" {
		g.PendingUserGroups.Remove = []string{g.UserGroupID}
	}
	if next != "" {
		if err := attachUserGroup(tx, scope, g, next); err != nil {
			return false, err
		}
	} else {
		g.UserGroupID, g.ACL = "", nil
	}
	if strategy == TokenDelete {
		g.AuthTokens, g.AuthTokenModified, g.AuthTokenStatus = nil, s.cfg.Now().UTC(), ""
	}
	for _, c := range members {
		if c.Status == StatusDeleting {
			continue
		}
		c.ACL, c.ACLPending = slices.Clone(g.ACL), true
		c.AuthTokens, c.AuthTokenModified, c.AuthTokenStatus = slices.Clone(g.AuthTokens), g.AuthTokenModified, g.AuthTokenStatus
		if c.Status == StatusAvailable {
			c.Status = StatusModifying
		}
		c.Generation++
	}
	return true, nil
}
