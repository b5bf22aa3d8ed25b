#!/usr/bin/env bash
# The alternative the guide recommends (SEEDS 001, 002): a security group used
# only by ElastiCache, instead of opening the VPC's default group — which may
# be attached to other instances that have public addresses. The cache gets
# its own group, whose one inbound rule admits the application servers' group
# on the cache's port. Application servers connect; an instance outside that
# group does not, even though it is in the same VPC; and nothing else was
# opened on the default group.
source "$(dirname "$0")/lib.sh"
start_cachalot

step "Groups: one for the cache only, one for the application servers"
CACHE_SG=$(aws ec2 create-security-group --group-name elasticache-only --description "ElastiCache nodes only" --query GroupId)
APP_SG=$(aws ec2 create-security-group --group-name app-servers --description "application servers" --query GroupId)
OTHER_SG=$(aws ec2 create-security-group --group-name batch --description "other workloads" --query GroupId)
echo "cache group $CACHE_SG, app group $APP_SG, other group $OTHER_SG"

step "A Redis OSS cluster in the dedicated group"
aws elasticache create-cache-cluster --cache-cluster-id redis-dedicated --engine redis \
  --cache-node-type cache.t3.micro --num-cache-nodes 1 --security-group-ids "$CACHE_SG" >/dev/null
read -r REDIS PORT < <(wait_cluster redis-dedicated)
APP=$(launch - "$APP_SG")
OTHER=$(launch - "$OTHER_SG")
echo "redis at $REDIS:$PORT; app instance $APP; other instance $OTHER"
expect_denied "app server before the rule" redis_ping "$APP" "$REDIS" "$PORT"

step "Inbound rule of the cache's group: Custom TCP $PORT from the app servers' group"
aws ec2 authorize-security-group-ingress --group-id "$CACHE_SG" \
  --ip-permissions "IpProtocol=tcp,FromPort=$PORT,ToPort=$PORT,UserIdGroupPairs=[{GroupId=$APP_SG,Description=app-servers}]" >/dev/null
expect_allowed "app server after the rule" redis_ping "$APP" "$REDIS" "$PORT"
expect_denied "an instance outside the app group" redis_ping "$OTHER" "$REDIS" "$PORT"
cachalot explain --from "$APP" --to redis-dedicated
cachalot explain --from "$OTHER" --to redis-dedicated && fail "explain allows the other instance" || true

step "The default group was not opened"
rules=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default \
  --query 'SecurityGroups[0].IpPermissions[?FromPort==`'"$PORT"'`] | length(@)')
[ "$rules" = 0 ] || fail "the default group has a rule for $PORT"
echo "ok: the default group has no rule for $PORT"

step "A connection made by hand is reachable but not a 'connected compute resource'"
listed=$(cachalot connected-compute --cache redis-dedicated)
[ -z "$listed" ] || fail "connected-compute lists hand-made access: $listed"
echo "ok: connected-compute lists nothing"
