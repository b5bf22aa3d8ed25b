#!/usr/bin/env bash
# A replication group with automatic failover, the way the ElastiCache user
# guide's "Testing automatic failover" walks it: one primary and two
# replicas, writes through the primary endpoint from an instance, reads of
# the same key through the reader endpoint, test-failover, writes resuming
# through the same primary endpoint, and the old primary back as a replica
# with the data.
#
# Endpoint names are used where the instance resolves them (the VPC's
# resolver); otherwise the script falls back to the member node's address
# the name stands for, and says so.
source "$(dirname "$0")/lib.sh"
start_cachalot

RG=web-sessions

step "Create the group: 1 primary + 2 replicas, automatic failover and Multi-AZ"
aws elasticache create-replication-group --replication-group-id "$RG" \
  --replication-group-description "web sessions" --engine redis --cache-node-type cache.t3.micro \
  --num-cache-clusters 3 --automatic-failover-enabled --multi-az-enabled \
  --query 'ReplicationGroup.[Status,join(`,`,MemberClusters)]'
aws elasticache wait replication-group-available --replication-group-id "$RG"
aws elasticache describe-replication-groups --replication-group-id "$RG" \
  --query 'ReplicationGroups[0].[Status,AutomaticFailover,MultiAZ,NodeGroups[0].PrimaryEndpoint.Address,NodeGroups[0].ReaderEndpoint.Address]'

# member_ip CLUSTER: the address of a member's node.
member_ip() {
  aws elasticache describe-cache-clusters --cache-cluster-id "$1" --show-cache-node-info \
    --query 'CacheClusters[0].CacheNodes[0].Endpoint.Address'
}
# role_of ROLE: the member clusters of that role (primary, replica).
members_of() {
  aws elasticache describe-replication-groups --replication-group-id "$RG" \
    --query "ReplicationGroups[0].NodeGroups[0].NodeGroupMembers[?CurrentRole=='$1'].CacheClusterId"
}
# endpoint primary|reader: the group's endpoint name if the instance
# resolves it, else the address of a member in that role.
endpoint() {
  local name member
  if [ "$1" = primary ]; then
    name=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint.Address')
    member=$(members_of primary)
  else
    name=$(aws elasticache describe-replication-groups --replication-group-id "$RG" --query 'ReplicationGroups[0].NodeGroups[0].ReaderEndpoint.Address')
    member=$(members_of replica | awk '{print $1}')
  fi
  if on "$INSTANCE" getent hosts "$name" >/dev/null 2>&1; then
    echo "$name"
  else
    echo "($1 endpoint $name does not resolve here yet: using $member's node)" >&2
    member_ip "$member"
  fi
}

step "An instance in the default VPC, in the default group (which admits its members)"
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
INSTANCE=$(launch - "$DEFAULT_SG")
echo "instance $INSTANCE"

step "Write through the primary endpoint, read through the reader endpoint"
PRIMARY=$(endpoint primary)
READER=$(endpoint reader)
[ "$(on "$INSTANCE" timeout 2 redis-cli -h "$PRIMARY" set session:42 alice)" = OK ] || fail "SET through the primary endpoint"
eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 2 redis-cli -h $READER get session:42)\" = alice ]" ||
  fail "GET through the reader endpoint"
echo "ok: session:42=alice written on the primary, read on a replica"
out=$(on "$INSTANCE" timeout 2 redis-cli -h "$READER" set session:42 mallory || true)
grep -q READONLY <<<"$out" || fail "a replica accepted a write: $out"
echo "ok: the replica refuses writes ($out)"

step "test-failover on node group 0001"
OLD=$(members_of primary)
aws elasticache test-failover --replication-group-id "$RG" --node-group-id 0001 --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-available --replication-group-id "$RG"
NEW=$(members_of primary)
[ "$NEW" != "$OLD" ] || fail "the primary is still $OLD after test-failover"
echo "primary: $OLD -> $NEW"
aws elasticache describe-events --source-type replication-group --source-identifier "$RG" --duration 60 --query 'Events[].Message' | tr '\t' '\n'
aws elasticache describe-events --source-type cache-cluster --source-identifier "$OLD" --duration 60 --query 'Events[].Message' | tr '\t' '\n'
aws elasticache describe-events --source-type replication-group --source-identifier "$RG" --duration 60 --query 'Events[].Message' |
  grep -q "Failover from primary node $OLD to replica node $NEW completed" || fail "no failover event"

step "Writes resume through the primary endpoint"
PRIMARY=$(endpoint primary)
eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 2 redis-cli -h $PRIMARY set session:43 bob)\" = OK ]" ||
  fail "SET through the primary endpoint after the failover"
[ "$(on "$INSTANCE" timeout 2 redis-cli -h "$PRIMARY" get session:42)" = alice ] || fail "session:42 lost in the failover"
echo "ok: writes resume on $NEW, and session:42 is still there"

step "The old primary is back, as a replica, with the data"
[ "$(members_of replica | tr '\t' '\n' | grep -cx "$OLD")" = 1 ] || fail "$OLD is not a replica"
OLD_IP=$(member_ip "$OLD")
eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 2 redis-cli -h $OLD_IP get session:43)\" = bob ]" ||
  fail "the old primary does not have session:43"
echo "ok: $OLD replicates from $NEW"

step "Delete the group"
aws elasticache delete-replication-group --replication-group-id "$RG" --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-deleted --replication-group-id "$RG"
[ -z "$(aws elasticache describe-cache-clusters --query 'CacheClusters[].CacheClusterId')" ] || fail "member clusters left"
echo "ok: group and members deleted"
