package elasticache

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// taggable resolves an ARN of the caller's scope to its store key and a
// pointer to its tags inside the decoded record.
func taggable(tx store.Tx, scope auth.Scope, arn string) (key string, rec any, tags *[]Tag, err error) {
	prefix := "arn:aws:elasticache:" + scope.Region + ":" + scope.AccountID + ":"
	rest, ok := strings.CutPrefix(arn, prefix)
	kind, name, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || name == "" {
		return "", nil, nil, elasticacheapi.ErrInvalidARNFault("Invalid resource name: %s", arn)
	}
	notFound := func(err error) error {
		if errors.Is(err, store.ErrNotFound) {
			switch kind {
			case "cluster":
				return elasticacheapi.ErrCacheClusterNotFoundFault("CacheCluster not found: %s", name)
			case "subnetgroup":
				return elasticacheapi.ErrCacheSubnetGroupNotFoundFault("CacheSubnetGroup %s not found.", name)
			case "replicationgroup":
				return elasticacheapi.ErrReplicationGroupNotFoundFault("ReplicationGroup %s not found.", name)
			case "serverlesscache":
				return elasticacheapi.ErrServerlessCacheNotFoundFault("Serverless cache %s not found.", name)
			case "snapshot":
				return elasticacheapi.ErrSnapshotNotFoundFault("Snapshot %s not found.", name)
			case "serverlesscachesnapshot":
				return serverlessSnapshotNotFound(name)
			case "user":
				return elasticacheapi.ErrUserNotFoundFault("User %s not found.", name)
			case "usergroup":
				return elasticacheapi.ErrUserGroupNotFoundFault("User group %s not found.", name)
			}
			return elasticacheapi.ErrCacheParameterGroupNotFoundFault("CacheParameterGroup %s not found.", name)
		}
		return err
	}
	switch kind {
	case "cluster":
		var c Cluster
		key = clusterKey(scope.AccountID, scope.Region, name)
		if err := store.GetJSON(tx, key, &c); err != nil {
			return "", nil, nil, notFound(err)
		}
		return key, &c, &c.Tags, nil
	case "replicationgroup", "serverlesscache":
		var g ReplicationGroup
		id := name
		if kind == "serverlesscache" {
			id = ServerlessGroupID(name)
		}
		key = groupKey(scope.AccountID, scope.Region, id)
		err := store.GetJSON(tx, key, &g)
		if err == nil && (g.Serverless != nil) != (kind == "serverlesscache") {
			err = store.ErrNotFound
		}
		if err != nil {
			return "", nil, nil, notFound(err)
		}
		return key, &g, &g.Tags, nil
	case "snapshot", "serverlesscachesnapshot":
		var sn Snapshot
		id := name
		if kind == "serverlesscachesnapshot" {
			id = ServerlessGroupID(name)
		} else if hiddenID(name) {
			return "", nil, nil, notFound(store.ErrNotFound)
		}
		key = snapshotKey(scope.AccountID, scope.Region, id)
		if err := store.GetJSON(tx, key, &sn); err != nil {
			return "", nil, nil, notFound(err)
		}
		return key, &sn, &sn.Tags, nil
	case "subnetgroup":
		var g SubnetGroup
		key = subnetGroupKey(scope, name)
		if err := store.GetJSON(tx, key, &g); err != nil {
			return "", nil, nil, notFound(err)
		}
		return key, &g, &g.Tags, nil
	case "user":
		if name == defaultUserID {
			return "", nil, nil, invalid("The built-in default user cannot be tagged.")
		}
		var u User
		key = userKey(scope.AccountID, scope.Region, name)
		if err := store.GetJSON(tx, key, &u); err != nil {
			return "", nil, nil, notFound(err)
		}
		return key, &u, &u.Tags, nil
	case "usergroup":
		var g UserGroup
		key = userGroupKey(scope.AccountID, scope.Region, name)
		if err := store.GetJSON(tx, key, &g); err != nil {
			return "", nil, nil, notFound(err)
		}
		return key, &g, &g.Tags, nil
	case "parametergroup":
		if isDefaultParamGroup(name) {
			return "", nil, nil, invalid("Default parameter groups cannot be tagged.")
		}
		var g ParameterGroup
		key = paramGroupKey(scope, name)
		if err := store.GetJSON(tx, key, &g); err != nil {
			return "", nil, nil, notFound(err)
		}
		return key, &g, &g.Tags, nil
	}
	return "", nil, nil, elasticacheapi.ErrInvalidARNFault("Tagging is not supported for resource %s", arn)
}

// ListTagsForResource lists a resource's tags.
func (s *Service) ListTagsForResource(ctx context.Context, in *elasticacheapi.ListTagsForResourceMessage) (*elasticacheapi.TagListMessage, error) {
	var tags []Tag
	err := s.st.View(ctx, func(tx store.Tx) error {
		_, _, t, err := taggable(tx, auth.ScopeFrom(ctx), aws.ToString(in.ResourceName))
		if err == nil {
			tags = *t
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.TagListMessage{TagList: toAPITags(tags)}, nil
}

// AddTagsToResource adds or replaces tags.
func (s *Service) AddTagsToResource(ctx context.Context, in *elasticacheapi.AddTagsToResourceMessage) (*elasticacheapi.TagListMessage, error) {
	add, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	return s.editTags(ctx, aws.ToString(in.ResourceName), func(t *[]Tag) error {
		*t = mergeTags(*t, add)
		if len(*t) > 50 {
			return elasticacheapi.ErrTagQuotaPerResourceExceeded("The request cannot be processed because it would cause the resource to have more than the allowed number of tags. The maximum number of tags permitted on a resource is 50.")
		}
		return nil
	})
}

// RemoveTagsFromResource removes tags by key.
func (s *Service) RemoveTagsFromResource(ctx context.Context, in *elasticacheapi.RemoveTagsFromResourceMessage) (*elasticacheapi.TagListMessage, error) {
	return s.editTags(ctx, aws.ToString(in.ResourceName), func(t *[]Tag) error {
		for _, k := range in.TagKeys {
			i := slices.IndexFunc(*t, func(tag Tag) bool { return tag.Key == k })
			if i < 0 {
				return elasticacheapi.ErrTagNotFoundFault("The requested tag %s was not found on this resource.", k)
			}
			*t = slices.Delete(*t, i, i+1)
		}
		return nil
	})
}

func (s *Service) editTags(ctx context.Context, arn string, edit func(*[]Tag) error) (*elasticacheapi.TagListMessage, error) {
	var out []Tag
	err := s.st.Update(ctx, func(tx store.Tx) error {
		key, rec, tags, err := taggable(tx, auth.ScopeFrom(ctx), arn)
		if err != nil {
			return err
		}
		if err := edit(tags); err != nil {
			return err
		}
		out = *tags
		return store.PutJSON(tx, key, rec)
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.TagListMessage{TagList: toAPITags(out)}, nil
}
