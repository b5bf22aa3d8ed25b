#!/usr/bin/env bash
# Backup and restore, the way the ElastiCache user guide walks them: write
# data from an instance, take a manual backup (create-snapshot), delete the
# cluster with a final backup, restore each backup into a new cache — a
# cluster, a replication group and a cluster-mode group of 3 shards — and
# find the data there, then copy and delete backups. The snapshots are the engines' own RDB files, kept in the
# data dir's snapshot store (<data dir>/snapshots).
source "$(dirname "$0")/lib.sh"
start_cachalot

step "A Redis OSS cluster, and an instance in the default group (which admits its members)"
aws elasticache create-cache-cluster --cache-cluster-id orders --engine redis --cache-node-type cache.t3.micro \
  --num-cache-nodes 1 --query 'CacheCluster.CacheClusterStatus'
read -r ADDR PORT < <(wait_cluster orders)
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
INSTANCE=$(launch - "$DEFAULT_SG")
eventually 10 redis_ping "$INSTANCE" "$ADDR" "$PORT" || fail "the instance does not reach the cluster"

step "Write keys of several types, one with a TTL"
on "$INSTANCE" redis-cli -h "$ADDR" -p "$PORT" set order:1 shipped >/dev/null
on "$INSTANCE" redis-cli -h "$ADDR" -p "$PORT" rpush queue a b c >/dev/null
on "$INSTANCE" redis-cli -h "$ADDR" -p "$PORT" hset customer:7 name ada city paris >/dev/null
on "$INSTANCE" redis-cli -h "$ADDR" -p "$PORT" set session:9 token EX 3600 >/dev/null
on "$INSTANCE" redis-cli -h "$ADDR" -p "$PORT" dbsize

# wait_snapshot NAME STATUS: until the snapshot has that status ("": it is gone).
wait_snapshot() {
  local s=""
  for _ in $(seq 1 300); do
    s=$(aws elasticache describe-snapshots --snapshot-name "$1" --query 'Snapshots[0].SnapshotStatus' 2>/dev/null || true)
    [ "$s" = "$2" ] && return 0
    sleep 0.2
  done
  fail "snapshot $1 is '$s', not '$2'"
}

step "A manual backup (the cluster is snapshotting meanwhile)"
aws elasticache create-snapshot --cache-cluster-id orders --snapshot-name orders-manual \
  --query 'Snapshot.[SnapshotName,SnapshotStatus,SnapshotSource]'
wait_snapshot orders-manual available
aws elasticache describe-snapshots --snapshot-name orders-manual \
  --query 'Snapshots[0].[SnapshotStatus,Engine,EngineVersion,CacheNodeType,NodeSnapshots[0].CacheSize,ARN]'
aws elasticache describe-events --source-type cache-cluster --source-identifier orders --duration 60 --query 'Events[].Message' |
  tr '\t' '\n' | grep "Snapshot succeeded" || fail "no snapshot event"

step "Delete the cluster with a final backup"
aws elasticache delete-cache-cluster --cache-cluster-id orders --final-snapshot-identifier orders-final \
  --query 'CacheCluster.CacheClusterStatus'
aws elasticache wait cache-cluster-deleted --cache-cluster-id orders
wait_snapshot orders-final available
echo "ok: orders deleted, orders-final available"

step "Restore the final backup into a new cluster"
aws elasticache create-cache-cluster --cache-cluster-id orders-restored --snapshot-name orders-final \
  --query 'CacheCluster.[CacheClusterStatus,CacheNodeType,Engine]'
read -r ADDR PORT < <(wait_cluster orders-restored)
eventually 10 redis_ping "$INSTANCE" "$ADDR" "$PORT" || fail "the instance does not reach the restored cluster"
[ "$(on "$INSTANCE" redis-cli -h "$ADDR" -p "$PORT" get order:1)" = shipped ] || fail "order:1 not restored"
[ "$(on "$INSTANCE" redis-cli -h "$ADDR" -p "$PORT" lrange queue 0 -1 | tr '\n' ' ')" = "a b c " ] || fail "queue not restored"
[ "$(on "$INSTANCE" redis-cli -h "$ADDR" -p "$PORT" hget customer:7 city)" = paris ] || fail "customer:7 not restored"
ttl=$(on "$INSTANCE" redis-cli -h "$ADDR" -p "$PORT" ttl session:9)
[ "$ttl" -gt 3000 ] && [ "$ttl" -le 3600 ] || fail "session:9 has TTL $ttl"
echo "ok: every key restored, session:9 with $ttl s to live"

step "Restore the manual backup into a replication group of two"
aws elasticache create-replication-group --replication-group-id orders-rg --replication-group-description "restored orders" \
  --num-cache-clusters 2 --snapshot-name orders-manual --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-available --replication-group-id orders-rg
for member in orders-rg-001 orders-rg-002; do
  read -r ADDR PORT < <(wait_cluster "$member")
  eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- redis-cli -h $ADDR -p $PORT get order:1)\" = shipped ]" ||
    fail "order:1 not on $member"
  echo "ok: $member has the data"
done

step "Restore the manual backup into cluster mode: 3 shards, each key moved into the shard owning its slot"
aws elasticache create-replication-group --replication-group-id orders-cm --replication-group-description "re-sharded orders" \
  --num-node-groups 3 --replicas-per-node-group 0 --automatic-failover-enabled \
  --cache-parameter-group-name default.redis7.cluster.on --snapshot-name orders-manual --query 'ReplicationGroup.Status'
aws elasticache describe-snapshots --snapshot-name orders-manual --query 'Snapshots[0].SnapshotStatus'
aws elasticache wait replication-group-available --replication-group-id orders-cm
CFG=$(aws elasticache describe-replication-groups --replication-group-id orders-cm --query 'ReplicationGroups[0].ConfigurationEndpoint.Address')
eventually 10 bash -c "[ \"\$($CACHALOT exec --data-dir $DATA_DIR --instance $INSTANCE -- timeout 5 redis-cli -c -h $CFG get order:1)\" = shipped ]" ||
  fail "order:1 not in the cluster"
[ "$(on "$INSTANCE" timeout 5 redis-cli -c -h "$CFG" hget customer:7 city)" = paris ] || fail "customer:7 not in the cluster"
[ "$(on "$INSTANCE" timeout 5 redis-cli -c -h "$CFG" lrange queue 0 -1 | tr '\n' ' ')" = "a b c " ] || fail "queue not in the cluster"
on "$INSTANCE" timeout 5 redis-cli -c -h "$CFG" cluster info | grep -E '^cluster_(state|slots_assigned|size)'
echo "ok: the cluster-mode group has every key"
aws elasticache delete-replication-group --replication-group-id orders-cm --query 'ReplicationGroup.Status'
aws elasticache wait replication-group-deleted --replication-group-id orders-cm

step "Copy a backup, then delete them all"
aws elasticache copy-snapshot --source-snapshot-name orders-manual --target-snapshot-name orders-copy \
  --query 'Snapshot.[SnapshotName,SnapshotStatus]'
aws elasticache describe-snapshots --query 'Snapshots[].[SnapshotName,SnapshotStatus,SnapshotSource]'
for s in orders-manual orders-copy orders-final; do
  aws elasticache delete-snapshot --snapshot-name "$s" --query 'Snapshot.[SnapshotName,SnapshotStatus]'
  wait_snapshot "$s" ""
done
[ -z "$(aws elasticache describe-snapshots --query 'Snapshots[].SnapshotName')" ] || fail "snapshots left"
echo "ok: snapshots deleted"
