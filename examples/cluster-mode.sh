#!/usr/bin/env bash
# A replication group with cluster mode enabled (a Redis Cluster of three
# shards, each a primary and a replica), the way the ElastiCache user
# guide creates one with the AWS CLI: the key space's slots split over
# the shards, a cluster client (redis-cli -c) on an instance writing and
# reading through the configuration endpoint while MOVED redirections
# send each key to its shard, redis-cli --cluster check agreeing with
# describe-replication-groups, test-failover of one shard with no key
# lost, and the deletion.
source "$(dirname "$0")/lib.sh"
start_cachalot

RG=catalog

step "Create the group: 3 shards x (1 primary + 1 replica), cluster mode on"
aws elasticache create-replication-group --replication-group-id "$RG" \
  --replication-group-description "product catalog" --engine redis --cache-node-type cache.t3.micro \
  --cache-parameter-group-name default.redis7.cluster.on \
  --num-node-groups 3 --replicas-per-node-group 1 --automatic-failover-enabled \
  --query 'ReplicationGroup.[Status,ClusterEnabled,join(`,`,MemberClusters)]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-replication-groups --replication-group-id "$RG" \
  --query 'ReplicationGroups[0].[Status,ClusterEnabled,ConfigurationEndpoint.Address,ConfigurationEndpoint.Port]'
aws elasticache describe-replication-groups --replication-group-id "$RG" \
  --query 'ReplicationGroups[0].NodeGroups[].[NodeGroupId,Slots]'
[ "$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[].Slots' | tr '\t' ' ')" = \
  "0-5461 5462-10922 10923-16383" ] || fail "the slots are not the even split"
CFG=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].ConfigurationEndpoint.Address')

step "An instance in the default VPC, in the default group (which admits its members)"
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
INSTANCE=$(launch - "$DEFAULT_SG")
echo "instance $INSTANCE"

step "redis-cli -c through the configuration endpoint $CFG"
on "$INSTANCE" getent hosts "$CFG" | sort
on "$INSTANCE" timeout 5 redis-cli -c -h "$CFG" cluster info | grep -E '^cluster_(state|slots_assigned|known_nodes|size)'
out=$(on "$INSTANCE" bash -c "for i in \$(seq 1 300); do echo \"SET product:\$i item-\$i\"; done | timeout 10 redis-cli -c -h $CFG | grep -c OK")
[ "$out" = 300 ] || fail "300 SETs through the configuration endpoint: $out OK"
[ "$(on "$INSTANCE" timeout 5 redis-cli -c -h "$CFG" get product:123)" = item-123 ] || fail "GET product:123"
echo "ok: 300 keys written over the three shards, read back with redis-cli -c"
on "$INSTANCE" timeout 10 redis-cli --cluster check "$CFG:6379" | grep -E 'keys|slots|OK|ERR'
on "$INSTANCE" timeout 10 redis-cli --cluster check "$CFG:6379" | grep -q '\[OK\] All 16384 slots covered.' || fail "slots not covered"

step "test-failover on node group 0002"
aws elasticache test-failover --replication-group-id "$RG" --node-group-id 0002 --query 'ReplicationGroup.Status'
eventually 60 bash -c "aws elasticache describe-events --source-type replication-group --source-identifier $RG --duration 60 --query 'Events[].Message' |
  grep -q 'Failover from primary node $RG-0002-001 to replica node $RG-0002-002 completed'" || fail "no failover event"
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-events --source-type replication-group --source-identifier "$RG" --duration 60 --query 'Events[].Message' | tr '\t' '\n'
eventually 20 bash -c "$CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 10 redis-cli --cluster info $CFG:6379 | grep -q '300 keys in 3 masters'" ||
  fail "keys lost in the failover"
[ "$(on "$INSTANCE" timeout 5 redis-cli -c -h "$CFG" set product:301 item-301)" = OK ] || fail "SET after the failover"
echo "ok: every key is still there, writes go on"

step "Delete the group"
aws elasticache delete-replication-group --replication-group-id "$RG" --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-deleted --replication-group-id "$RG"
[ -z "$(aws elasticache describe-cache-clusters --query 'CacheClusters[].CacheClusterId')" ] || fail "member clusters left"
echo "ok: group and members deleted"
