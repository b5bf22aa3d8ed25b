#!/usr/bin/env bash
# Moving a replication group from cluster mode disabled to enabled with the
# AWS CLI, as ElastiCache's "Modifying cluster mode" goes: a group of a
# primary and a replica without cluster mode, keys written with redis-cli
# through the primary endpoint from an instance; modify-replication-group
# --cluster-mode compatible (the default parameter group's .cluster.on
# sibling is taken): the keys are read back with redis-cli -c through the
# new configuration endpoint, and the primary endpoint still takes writes;
# --cluster-mode enabled; then a reshard to two shards, every key kept; the
# deletion.
source "$(dirname "$0")/lib.sh"

# --cluster-mode came with AWS CLI 2.13 / 1.29 (Debian 12's is 2.9): take
# the first AWS CLI that knows it.
knows_cluster_mode() { "$1" elasticache modify-replication-group help 2>/dev/null | grep -q -- --cluster-mode; }
if ! knows_cluster_mode "$AWSCLI"; then
  for cli in $(type -P -a aws); do
    if knows_cluster_mode "$cli"; then AWSCLI=$cli; break; fi
  done
  knows_cluster_mode "$AWSCLI" || fail "no AWS CLI here knows modify-replication-group --cluster-mode (AWS CLI 2.13+ or 1.29+)"
fi
echo "AWS CLI: $("$AWSCLI" --version 2>&1)"
start_cachalot

RG=legacy

step "Create the group: 1 primary + 1 replica, cluster mode disabled"
aws elasticache create-replication-group --replication-group-id "$RG" \
  --replication-group-description "legacy" --engine redis --cache-node-type cache.t3.micro \
  --num-cache-clusters 2 --automatic-failover-enabled \
  --query 'ReplicationGroup.[Status,ClusterMode]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
PRIMARY=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint.Address')

step "An instance in the default VPC, in the default group"
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
INSTANCE=$(launch - "$DEFAULT_SG")
echo "instance $INSTANCE"

step "300 keys with redis-cli through the primary endpoint $PRIMARY"
out=$(on "$INSTANCE" bash -c "for i in \$(seq 1 300); do echo \"SET user:\$i v-\$i\"; done | timeout 20 redis-cli -h $PRIMARY | grep -c OK")
[ "$out" = 300 ] || fail "300 SETs: $out OK"
echo "ok: 300 keys"

# check_keys HOST N: every key reads back its value with redis-cli -c.
check_keys() {
  local got
  got=$(on "$INSTANCE" bash -c "for i in \$(seq 1 300); do echo \"GET user:\$i\"; done | timeout 20 redis-cli -c -h $1 | grep -c '^v-'")
  [ "$got" = 300 ] || fail "$got of 300 keys read back through $1"
  echo "ok: 300 keys read back through $1"
}

step "Cluster mode compatible"
aws elasticache modify-replication-group --replication-group-id "$RG" --cluster-mode compatible --apply-immediately \
  --query 'ReplicationGroup.[Status,ClusterMode,PendingModifiedValues.ClusterMode]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-replication-groups --replication-group-id "$RG" \
  --query 'ReplicationGroups[0].[ClusterMode,ConfigurationEndpoint.Address,NodeGroups[0].PrimaryEndpoint.Address,NodeGroups[0].Slots]'
[ "$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].ClusterMode')" = compatible ] ||
  fail "cluster mode is not compatible"
CFG=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].ConfigurationEndpoint.Address')
check_keys "$CFG"
[ "$(on "$INSTANCE" timeout 5 redis-cli -h "$PRIMARY" set written-in-compatible yes)" = OK ] || fail "SET through the primary endpoint"
[ "$(on "$INSTANCE" timeout 5 redis-cli -c -h "$CFG" get written-in-compatible)" = yes ] || fail "GET through the configuration endpoint"
echo "ok: the primary endpoint takes writes, cluster clients see them"
aws elasticache describe-events --source-type replication-group --source-identifier "$RG" --duration 60 --query 'Events[].Message' | tr '\t' '\n'

step "Cluster mode enabled"
aws elasticache modify-replication-group --replication-group-id "$RG" --cluster-mode enabled --apply-immediately \
  --query 'ReplicationGroup.[Status,ClusterMode]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
[ "$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].[ClusterMode,ClusterEnabled]' | tr '\t' ' ')" = "enabled True" ] ||
  fail "cluster mode is not enabled"
check_keys "$CFG"

step "Reshard to 2 shards, online"
aws elasticache modify-replication-group-shard-configuration --replication-group-id "$RG" \
  --node-group-count 2 --apply-immediately --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-replication-groups --replication-group-id "$RG" \
  --query 'ReplicationGroups[0].NodeGroups[].[NodeGroupId,Slots]'
eventually 30 bash -c "$CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 10 redis-cli --cluster info $CFG:6379 | grep -q '301 keys in 2 masters'" ||
  fail "the cluster does not show 301 keys in 2 masters"
check_keys "$CFG"

step "Delete the group"
aws elasticache delete-replication-group --replication-group-id "$RG" --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-deleted --replication-group-id "$RG"
echo "ok: group deleted"
