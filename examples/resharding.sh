#!/usr/bin/env bash
# Online resharding of a cluster-mode-enabled replication group with the
# AWS CLI: a group of two shards, keys written with redis-cli -c from an
# instance, modify-replication-group-shard-configuration to three shards
# (slots move to the new shard while the cluster serves) and back to two
# (the removed shard's slots move to the others), every key still there
# with its value after each step, and the deletion.
source "$(dirname "$0")/lib.sh"
start_cachalot

RG=orders

step "Create the group: 2 shards x (1 primary + 1 replica), cluster mode on"
aws elasticache create-replication-group --replication-group-id "$RG" \
  --replication-group-description "orders" --engine redis --cache-node-type cache.t3.micro \
  --cache-parameter-group-name default.redis7.cluster.on \
  --num-node-groups 2 --replicas-per-node-group 1 --automatic-failover-enabled \
  --query 'ReplicationGroup.[Status,ClusterEnabled]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-replication-groups --replication-group-id "$RG" \
  --query 'ReplicationGroups[0].NodeGroups[].[NodeGroupId,Slots]'
CFG=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].ConfigurationEndpoint.Address')

step "An instance in the default VPC, in the default group"
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
INSTANCE=$(launch - "$DEFAULT_SG")
echo "instance $INSTANCE"

step "500 keys with redis-cli -c through $CFG"
out=$(on "$INSTANCE" bash -c "for i in \$(seq 1 500); do echo \"SET order:\$i v-\$i\"; done | timeout 20 redis-cli -c -h $CFG | grep -c OK")
[ "$out" = 500 ] || fail "500 SETs: $out OK"
echo "ok: 500 keys on 2 shards"

# check_keys N: every key reads back its value through redis-cli -c, and
# redis-cli --cluster sees 500 keys in N masters with all slots covered.
check_keys() {
  local got
  got=$(on "$INSTANCE" bash -c "for i in \$(seq 1 500); do echo \"GET order:\$i\"; done | timeout 20 redis-cli -c -h $CFG | grep -c '^v-'")
  [ "$got" = 500 ] || fail "$got of 500 keys read back after resharding to $1 shards"
  for i in 1 250 500; do
    [ "$(on "$INSTANCE" timeout 5 redis-cli -c -h "$CFG" get "order:$i")" = "v-$i" ] || fail "GET order:$i"
  done
  on "$INSTANCE" timeout 10 redis-cli --cluster check "$CFG:6379" | grep -E 'keys|slots|OK|ERR'
  on "$INSTANCE" timeout 10 redis-cli --cluster info "$CFG:6379" | grep -q "500 keys in $1 masters" || fail "not 500 keys in $1 masters"
  on "$INSTANCE" timeout 10 redis-cli --cluster check "$CFG:6379" | grep -q '\[OK\] All 16384 slots covered.' || fail "slots not covered"
  echo "ok: 500 keys in $1 shards, each with its value"
}

step "Scale out to 3 shards, online"
aws elasticache modify-replication-group-shard-configuration --replication-group-id "$RG" \
  --node-group-count 3 --apply-immediately --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-replication-groups --replication-group-id "$RG" \
  --query 'ReplicationGroups[0].NodeGroups[].[NodeGroupId,Slots]'
[ "$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'length(ReplicationGroups[0].NodeGroups)')" = 3 ] || fail "not 3 node groups"
eventually 30 bash -c "$CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 10 redis-cli --cluster info $CFG:6379 | grep -q '500 keys in 3 masters'" ||
  fail "the cluster does not show 3 masters"
check_keys 3

step "Scale in to 2 shards, removing node group 0001"
aws elasticache modify-replication-group-shard-configuration --replication-group-id "$RG" \
  --node-group-count 2 --node-groups-to-remove 0001 --apply-immediately --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-replication-groups --replication-group-id "$RG" \
  --query 'ReplicationGroups[0].NodeGroups[].[NodeGroupId,Slots]'
[ "$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[].NodeGroupId' | tr '\t' ' ')" = "0002 0003" ] ||
  fail "node groups are not 0002 0003"
eventually 30 bash -c "$CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 10 redis-cli --cluster info $CFG:6379 | grep -q '500 keys in 2 masters'" ||
  fail "the cluster does not show 2 masters"
check_keys 2

step "Delete the group"
aws elasticache delete-replication-group --replication-group-id "$RG" --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-deleted --replication-group-id "$RG"
[ -z "$(aws elasticache describe-cache-clusters --query 'CacheClusters[].CacheClusterId')" ] || fail "member clusters left"
echo "ok: group and members deleted"
