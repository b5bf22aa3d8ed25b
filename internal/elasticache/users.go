package elasticache

// Role-based access control (RBAC, Valkey and Redis OSS): users and user
// groups. A user is an ACL user of the engines: a name, its passwords (kept
// as SHA-256 hashes only, the engine's "#<hex>" form: a password is never
// stored, logged or returned, only counted) and an access string (ACL
// rules). A user group is a set of users, one of them named "default" (the
// engine's default user, what an unauthenticated connection is); a
// replication group with in-transit encryption may have one user group
// (rbacgroups.go), and then its engines' ACLs are the group's users: the
// API computes each member's ACL (Cluster.ACL) in the transaction that
// changes a user, a group or the attachment, and the cache controller gives
// it to the engines live. The account's built-in user "default" (no
// password, every right) is not stored: it always exists and cannot be
// modified or deleted.
//
// AuthenticationMode iam: the user has no password; clients authenticate
// as it with a SigV4-presigned token (ElastiCache's IAM authentication),
// which the front in the node's data path verifies (internal/iamauth,
// internal/cachectl/iamfront.go). As on ElastiCache, an IAM user's UserId
// and UserName are identical.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// User is a stored RBAC user.
type User struct {
	Account, Region string
	ID              string
	Name            string // the engine's user name
	Engine          string // redis or valkey
	// AccessString is the normalised access string (accessRules).
	AccessString string
	// AuthType is password, no-password-required or iam.
	AuthType string
	// PasswordHashes are the SHA-256 hashes (hex) of the user's
	// passwords: one or two.
	PasswordHashes []string `json:",omitempty"`
	Tags           []Tag    `json:",omitempty"`
}

// UserGroup is a stored RBAC user group.
type UserGroup struct {
	Account, Region string
	ID              string
	Engine          string
	UserIDs         []string
	Tags            []Tag `json:",omitempty"`
	// Pending is the last ModifyUserGroup's change, shown
	// (PendingChanges) while the group is modifying for it.
	Pending *IDChange `json:",omitempty"`
}

// ACLUser is one user of an engine's ACL, as the cache controller gives it
// to the engine: its name and its ACL rules (on/off, "#<sha256>" or nopass,
// keys, channels, commands). Cachalot's own restrictions are added by the
// engine package.
type ACLUser struct {
	Name  string
	Rules []string
	// IAM: the user authenticates with IAM tokens (AuthenticationMode
	// iam). Its Rules hold no password: the cache controller adds the
	// one the data path's front gives the engine for a valid token.
	IAM bool `json:",omitempty"`
}

// Authentication types as ElastiCache spells them.
const (
	AuthPassword   = "password"
	AuthNoPassword = "no-password-required"
	AuthIAM        = "iam"
)

// User and user group statuses.
const (
	UserActive    = "active"
	UserModifying = "modifying"
	UserDeleting  = "deleting"
	UserCreating  = "creating"
)

const (
	defaultUserID        = "default"
	defaultUserName      = "default"
	defaultAccessString  = "on ~* +@all"
	minimumEngineVersion = "6.0"
	maxUserIDLen         = 40
	maxUsersPerGroup     = 100
)

func userKey(account, region, id string) string {
	return store.Key("elasticache", account, region, "user", id)
}

func userGroupKey(account, region, id string) string {
	return store.Key("elasticache", account, region, "usergroup", id)
}

// builtinDefault is the account's built-in default user.
func builtinDefault(scope auth.Scope) *User {
	return &User{Account: scope.AccountID, Region: scope.Region, ID: defaultUserID, Name: defaultUserName,
		Engine: catalog.Redis, AccessString: defaultAccessString, AuthType: AuthNoPassword}
}

func getUser(tx store.Tx, scope auth.Scope, id string) (*User, error) {
	var u User
	err := store.GetJSON(tx, userKey(scope.AccountID, scope.Region, id), &u)
	if errors.Is(err, store.ErrNotFound) {
		if id == defaultUserID {
			return builtinDefault(scope), nil
		}
		return nil, elasticacheapi.ErrUserNotFoundFault("User %s not found.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read user %s: %w", id, err)
	}
	return &u, nil
}

func getUserGroup(tx store.Tx, scope auth.Scope, id string) (*UserGroup, error) {
	var g UserGroup
	err := store.GetJSON(tx, userGroupKey(scope.AccountID, scope.Region, id), &g)
	if errors.Is(err, store.ErrNotFound) {
		return nil, elasticacheapi.ErrUserGroupNotFoundFault("User group %s not found.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read user group %s: %w", id, err)
	}
	return &g, nil
}

// scanUsers returns the scope's stored users and the built-in default,
// sorted by id.
func scanUsers(tx store.Tx, scope auth.Scope) ([]*User, error) {
	out := []*User{builtinDefault(scope)}
	err := store.ScanJSON(tx, store.Key("elasticache", scope.AccountID, scope.Region, "user")+"/", func(_ string, u *User) error {
		out = append(out, u)
		return nil
	})
	slices.SortFunc(out, func(a, b *User) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

func scanUserGroups(tx store.Tx, scope auth.Scope) ([]*UserGroup, error) {
	var out []*UserGroup
	err := store.ScanJSON(tx, store.Key("elasticache", scope.AccountID, scope.Region, "usergroup")+"/", func(_ string, g *UserGroup) error {
		out = append(out, g)
		return nil
	})
	return out, err
}

// userEngine validates and lower-cases an engine name (case insensitive,
// as ElastiCache takes it).
func userEngine(v *string) (string, error) {
	e := strings.ToLower(aws.ToString(v))
	switch e {
	case catalog.Redis, catalog.Valkey:
		return e, nil
	case "":
		return "", invalid("The parameter Engine must be provided and must not be blank.")
	}
	return "", invalid("Invalid value for Engine: %s. Valid values are redis and valkey.", aws.ToString(v))
}

// userNamePattern: the engine's user names (letters, digits and . _ @ +
// : = -, not starting with a punctuation mark); passwordPattern:
// printable ASCII without spaces; rulePattern: an access rule is
// printable ASCII without spaces, quotes or backslashes.
var (
	userNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+:=-]*$`)
	passwordPattern = regexp.MustCompile(`^[\x21-\x7e]+$`)
	rulePattern     = regexp.MustCompile(`^[!#-&(-;=?-\[\]-~]+$`)
)

// checkPassword applies ElastiCache's rules for user passwords: 16 to 128
// printable ASCII characters without spaces.
func checkPassword(p string) error {
	if len(p) < 16 || len(p) > 128 {
		return invalid("Passwords length must be between 16-128 characters.")
	}
	if !passwordPattern.MatchString(p) {
		return invalid("Passwords must contain only printable ASCII characters and no spaces.")
	}
	return nil
}

// userAuth resolves a request's password sources (Passwords,
// NoPasswordRequired, AuthenticationMode) to an authentication type and
// password hashes. set is false when the request names none (ModifyUser
// keeps the user's).
func userAuth(passwords []string, noPass *bool, mode *elasticacheapi.AuthenticationMode) (typ string, hashes []string, set bool, err error) {
	if mode != nil && (len(passwords) > 0 || noPass != nil) {
		return "", nil, false, combination("AuthenticationMode cannot be specified together with Passwords or NoPasswordRequired.")
	}
	if len(passwords) > 0 && aws.ToBool(noPass) {
		return "", nil, false, combination("Passwords and NoPasswordRequired cannot be specified together.")
	}
	switch {
	case mode != nil:
		typ, passwords = aws.ToString(mode.Type), mode.Passwords
		switch typ {
		case AuthPassword:
			if len(passwords) == 0 {
				return "", nil, false, combination("At least one password is required for authentication type password.")
			}
		case AuthNoPassword:
			if len(passwords) > 0 {
				return "", nil, false, combination("Passwords cannot be specified for authentication type no-password-required.")
			}
		case AuthIAM:
			if len(passwords) > 0 {
				return "", nil, false, combination("Passwords cannot be specified for authentication type iam.")
			}
		case "":
			return "", nil, false, invalid("The parameter AuthenticationMode.Type must be provided.")
		default:
			return "", nil, false, invalid("Invalid value for AuthenticationMode.Type: %s. Valid values are password, no-password-required and iam.", typ)
		}
	case len(passwords) > 0:
		typ = AuthPassword
	case aws.ToBool(noPass):
		typ = AuthNoPassword
	default: // none, or NoPasswordRequired false alone (ModifyUser: keep the passwords)
		return "", nil, false, nil
	}
	if len(passwords) > 2 {
		return "", nil, false, invalid("A user can have at most two passwords.")
	}
	for _, p := range passwords {
		if err := checkPassword(p); err != nil {
			return "", nil, false, err
		}
		hashes = append(hashes, tokenHash(p))
	}
	return typ, hashes, true, nil
}

// accessRules validates an access string and returns its rules. It is
// the engine's ACL rules for keys, channels and commands, and on/off;
// passwords come from Passwords, so password rules (and reset, which
// would drop them) are refused, as are selectors.
func accessRules(s string) ([]string, error) {
	rules := strings.Fields(s)
	if len(rules) == 0 {
		return nil, invalid("The parameter AccessString must be provided and must not be blank.")
	}
	for _, r := range rules {
		low := strings.ToLower(r)
		switch {
		case !rulePattern.MatchString(r) && !strings.ContainsAny(r[:1], "><"):
			return nil, invalid("Invalid access string %q: %q has characters an access rule cannot have.", s, r)
		case low == "on" || low == "off" || low == "allkeys" || low == "resetkeys" || low == "allchannels" ||
			low == "resetchannels" || low == "allcommands" || low == "nocommands":
		case len(r) > 1 && (r[0] == '~' || r[0] == '&'):
		case strings.HasPrefix(low, "%r~") || strings.HasPrefix(low, "%w~") || strings.HasPrefix(low, "%rw~"):
		case len(r) > 1 && (r[0] == '+' || r[0] == '-') && aclCommandPattern.MatchString(r[1:]):
		case low == "nopass" || low == "resetpass" || low == "reset" || strings.ContainsAny(r[:1], "><#!"):
			// Not echoed: the rule may hold a password.
			return nil, invalid("Invalid access string: passwords are set with Passwords or AuthenticationMode, not in the access string.")
		default:
			return nil, invalid("Invalid access string %q: %q is not an access rule.", s, r)
		}
	}
	return rules, nil
}

var aclCommandPattern = regexp.MustCompile(`^(@[a-zA-Z0-9_-]+|[a-zA-Z0-9_.-]+(\|[a-zA-Z0-9_.-]+)?)$`)

// aclUser is the engine's ACL entry for u: its access string's rules with
// its passwords; channels default to all (&*) when the access string
// says nothing of them, as ElastiCache's do.
func aclUser(u *User) ACLUser {
	rules, _ := accessRules(u.AccessString) // validated when stored
	var out []string
	if u.AuthType == AuthNoPassword {
		out = append(out, "nopass")
	}
	for _, h := range u.PasswordHashes {
		out = append(out, "#"+h)
	}
	channels := false
	for _, r := range rules {
		low := strings.ToLower(r)
		if r[0] == '&' || low == "allchannels" || low == "resetchannels" {
			channels = true
		}
	}
	if !channels {
		out = append(out, "&*")
	}
	return ACLUser{Name: u.Name, Rules: append(out, rules...), IAM: u.AuthType == AuthIAM}
}

// authTypeAPI is how Describe spells an authentication type
// (AuthenticationType: no-password, where requests say
// no-password-required).
func authTypeAPI(t string) string {
	if t == AuthNoPassword {
		return "no-password"
	}
	return t
}

func userAPI(tx store.Tx, u *User, groups []*UserGroup, status string) *elasticacheapi.User {
	scope := auth.Scope{AccountID: u.Account, Region: u.Region}
	out := &elasticacheapi.User{
		ARN:                  aws.String(ARN(scope, "user", u.ID)),
		UserId:               aws.String(u.ID),
		UserName:             aws.String(u.Name),
		Engine:               aws.String(u.Engine),
		AccessString:         aws.String(u.AccessString),
		MinimumEngineVersion: aws.String(minimumEngineVersion),
		Status:               aws.String(status),
		Authentication:       &elasticacheapi.Authentication{Type: aws.String(authTypeAPI(u.AuthType)), PasswordCount: aws.Int32(int32(len(u.PasswordHashes)))},
		UserGroupIds:         []string{},
	}
	modifying := false
	for _, g := range groups {
		if slices.Contains(g.UserIDs, u.ID) {
			out.UserGroupIds = append(out.UserGroupIds, g.ID)
			if userGroupStatus(tx, g) == UserModifying {
				modifying = true
			}
		}
	}
	if status == "" {
		out.Status = aws.String(UserActive)
		if modifying {
			out.Status = aws.String(UserModifying)
		}
	}
	return out
}

// CreateUser creates a user.
func (s *Service) CreateUser(ctx context.Context, in *elasticacheapi.CreateUserMessage) (*elasticacheapi.User, error) {
	scope := auth.ScopeFrom(ctx)
	id := aws.ToString(in.UserId)
	if err := checkIdentifier("UserId", id, maxUserIDLen); err != nil {
		return nil, err
	}
	name := aws.ToString(in.UserName)
	switch {
	case name == "":
		return nil, invalid("The parameter UserName must be provided and must not be blank.")
	case len(name) > 120 || !userNamePattern.MatchString(name):
		return nil, invalid("Invalid UserName %q: letters, digits and . _ @ + : = -, starting with a letter or digit.", name)
	case name == "cachalot":
		return nil, invalid("The user name cachalot is reserved.")
	}
	eng, err := userEngine(in.Engine)
	if err != nil {
		return nil, err
	}
	if in.AccessString == nil {
		return nil, invalid("The parameter AccessString must be provided and must not be blank.")
	}
	rules, err := accessRules(*in.AccessString)
	if err != nil {
		return nil, err
	}
	typ, hashes, set, err := userAuth(in.Passwords, in.NoPasswordRequired, in.AuthenticationMode)
	if err != nil {
		return nil, err
	}
	if !set {
		return nil, combination("No password source: specify Passwords, NoPasswordRequired or AuthenticationMode.")
	}
	if typ == AuthIAM && name != id {
		return nil, invalid("UserId and UserName must be identical for a user with authentication type iam.")
	}
	tags, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	u := &User{Account: scope.AccountID, Region: scope.Region, ID: id, Name: name, Engine: eng,
		AccessString: strings.Join(rules, " "), AuthType: typ, PasswordHashes: hashes, Tags: tags}
	var out *elasticacheapi.User
	err = s.st.Update(ctx, func(tx store.Tx) error {
		users, err := scanUsers(tx, scope)
		if err != nil {
			return err
		}
		for _, o := range users {
			if o.ID == id {
				return elasticacheapi.ErrUserAlreadyExistsFault("User %s already exists.", id)
			}
		}
		if len(users) >= 1000 {
			return elasticacheapi.ErrUserQuotaExceededFault("The request cannot be processed because it would exceed the allowed number of users (1000).")
		}
		if err := store.PutJSON(tx, userKey(u.Account, u.Region, id), u); err != nil {
			return err
		}
		out = userAPI(tx, u, nil, UserActive)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("user created", "account", scope.AccountID, "region", scope.Region, "user", id)
	return out, nil
}

// ModifyUser changes a user's access string or passwords; the engines of
// every replication group using it take the change live.
func (s *Service) ModifyUser(ctx context.Context, in *elasticacheapi.ModifyUserMessage) (*elasticacheapi.User, error) {
	scope := auth.ScopeFrom(ctx)
	id := aws.ToString(in.UserId)
	if in.AccessString != nil && in.AppendAccessString != nil {
		return nil, combination("AccessString and AppendAccessString cannot be specified together.")
	}
	if in.Engine != nil {
		if _, err := userEngine(in.Engine); err != nil {
			return nil, err
		}
	}
	typ, hashes, set, err := userAuth(in.Passwords, in.NoPasswordRequired, in.AuthenticationMode)
	if err != nil {
		return nil, err
	}
	if in.AccessString == nil && in.AppendAccessString == nil && !set && in.Engine == nil && in.NoPasswordRequired == nil {
		return nil, invalid("No modifications were requested.")
	}
	var out *elasticacheapi.User
	err = s.st.Update(ctx, func(tx store.Tx) error {
		u, err := getUser(tx, scope, id)
		if err != nil {
			return err
		}
		if id == defaultUserID {
			return invalid("The default user cannot be modified.")
		}
		if !set && in.NoPasswordRequired != nil && u.AuthType == AuthNoPassword {
			return combination("User %s has no password: NoPasswordRequired false needs Passwords.", id)
		}
		if in.Engine != nil {
			u.Engine, _ = userEngine(in.Engine)
		}
		access := u.AccessString
		if in.AccessString != nil {
			access = *in.AccessString
		} else if in.AppendAccessString != nil {
			access += " " + *in.AppendAccessString
		}
		rules, err := accessRules(access)
		if err != nil {
			return err
		}
		u.AccessString = strings.Join(rules, " ")
		if set {
			if typ == AuthIAM && u.Name != u.ID {
				return invalid("UserId and UserName must be identical for a user with authentication type iam.")
			}
			u.AuthType, u.PasswordHashes = typ, hashes
		}
		if err := store.PutJSON(tx, userKey(u.Account, u.Region, id), u); err != nil {
			return err
		}
		groups, err := scanUserGroups(tx, scope)
		if err != nil {
			return err
		}
		if err := s.refreshACLOfUser(tx, scope, groups, id); err != nil {
			return err
		}
		out = userAPI(tx, u, groups, "")
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("user modified", "account", scope.AccountID, "region", scope.Region, "user", id)
	return out, nil
}

// DeleteUser deletes a user: it leaves every user group it is in, and the
// engines of their replication groups drop it. A user named default still
// in a group cannot be deleted (the group needs one); nor can the built-in
// default user.
func (s *Service) DeleteUser(ctx context.Context, in *elasticacheapi.DeleteUserMessage) (*elasticacheapi.User, error) {
	scope := auth.ScopeFrom(ctx)
	id := aws.ToString(in.UserId)
	var out *elasticacheapi.User
	err := s.st.Update(ctx, func(tx store.Tx) error {
		u, err := getUser(tx, scope, id)
		if err != nil {
			return err
		}
		if id == defaultUserID {
			return invalid("The default user cannot be deleted.")
		}
		groups, err := scanUserGroups(tx, scope)
		if err != nil {
			return err
		}
		out = userAPI(tx, u, groups, UserDeleting)
		for _, g := range groups {
			if !slices.Contains(g.UserIDs, id) {
				continue
			}
			if u.Name == defaultUserName {
				return elasticacheapi.ErrDefaultUserAssociatedToUserGroupFault("User %s is the default user of user group %s and cannot be deleted while associated to it.", id, g.ID)
			}
			if userGroupStatus(tx, g) != UserActive {
				return elasticacheapi.ErrInvalidUserStateFault("User %s is in user group %s, which is not active.", id, g.ID)
			}
			g.UserIDs = slices.DeleteFunc(g.UserIDs, func(x string) bool { return x == id })
			if err := store.PutJSON(tx, userGroupKey(g.Account, g.Region, g.ID), g); err != nil {
				return err
			}
		}
		if err := tx.Delete(userKey(u.Account, u.Region, id)); err != nil {
			return err
		}
		return s.refreshACLOfUser(tx, scope, groups, id)
	})
	if err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("user deleted", "account", scope.AccountID, "region", scope.Region, "user", id)
	return out, nil
}

// DescribeUsers lists users: one by UserId, those of an engine, or those
// the filters select (user-id).
func (s *Service) DescribeUsers(ctx context.Context, in *elasticacheapi.DescribeUsersMessage) (*elasticacheapi.DescribeUsersResult, error) {
	scope := auth.ScopeFrom(ctx)
	var eng string
	if in.Engine != nil {
		var err error
		if eng, err = userEngine(in.Engine); err != nil {
			return nil, err
		}
	}
	var ids []string
	for _, f := range in.Filters {
		if aws.ToString(f.Name) != "user-id" {
			return nil, invalid("Invalid filter name: %s. Valid filter names are user-id.", aws.ToString(f.Name))
		}
		if len(f.Values) == 0 {
			return nil, invalid("Filter user-id must have at least one value.")
		}
		ids = append(ids, f.Values...)
	}
	var out []elasticacheapi.User
	err := s.st.View(ctx, func(tx store.Tx) error {
		users, err := scanUsers(tx, scope)
		if err != nil {
			return err
		}
		groups, err := scanUserGroups(tx, scope)
		if err != nil {
			return err
		}
		id := aws.ToString(in.UserId)
		found := false
		for _, u := range users {
			if (id != "" && u.ID != id) || (eng != "" && u.Engine != eng) || (len(ids) > 0 && !slices.Contains(ids, u.ID)) {
				continue
			}
			found = true
			out = append(out, *userAPI(tx, u, groups, ""))
		}
		if id != "" && !found {
			return elasticacheapi.ErrUserNotFoundFault("User %s not found.", id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	items, next, err := page(out, func(u elasticacheapi.User) string { return aws.ToString(u.UserId) }, in.Marker, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []elasticacheapi.User{}
	}
	return &elasticacheapi.DescribeUsersResult{Users: items, Marker: next}, nil
}
