#!/usr/bin/env bash
# Getting started, step 4 "Grant access to your cluster" (SEEDS 001, 002),
# the way the guide does it: in the default VPC, add an inbound Custom TCP
# rule for the node's port — 6379 for Redis OSS, 11211 for Memcached — from
# Anywhere (0.0.0.0/0) to the VPC's default security group. Before the rule,
# an instance of the VPC (in its own launch group) cannot connect; after it,
# redis-cli and the memcached tools can; revoking the rule denies again.
source "$(dirname "$0")/lib.sh"
start_cachalot

step "Which platform? (describe-account-attributes: supported-platforms)"
platforms=$(aws ec2 describe-account-attributes --attribute-names supported-platforms \
  --query 'AccountAttributes[0].AttributeValues[].AttributeValue')
echo "supported-platforms: $platforms"
[ "$platforms" = VPC ] || fail "expected an EC2-VPC-only account, got '$platforms'"

step "A Redis OSS and a Memcached cluster in the default VPC (default security group)"
aws elasticache create-cache-cluster --cache-cluster-id redis-demo --engine redis \
  --cache-node-type cache.t3.micro --num-cache-nodes 1 >/dev/null
aws elasticache create-cache-cluster --cache-cluster-id memc-demo --engine memcached \
  --cache-node-type cache.t3.micro --num-cache-nodes 1 >/dev/null
read -r REDIS REDIS_PORT < <(wait_cluster redis-demo)
read -r MEMC MEMC_PORT < <(wait_cluster memc-demo)
echo "redis at $REDIS:$REDIS_PORT, memcached at $MEMC:$MEMC_PORT"
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')

step "An instance in the default VPC, in its own launch group"
APP_SG=$(aws ec2 create-security-group --group-name launch-wizard-1 --description "launch wizard" --query GroupId)
INSTANCE=$(launch - "$APP_SG")
echo "instance $INSTANCE"
expect_denied "redis-cli ping before the rule" redis_ping "$INSTANCE" "$REDIS" "$REDIS_PORT"
expect_denied "memcstat before the rule" memcached_ping "$INSTANCE" "$MEMC" "$MEMC_PORT"
cachalot explain --from "$INSTANCE" --to redis-demo || true

step "Inbound rules of the default group: Custom TCP $REDIS_PORT and $MEMC_PORT from Anywhere (0.0.0.0/0)"
aws ec2 authorize-security-group-ingress --group-id "$DEFAULT_SG" --protocol tcp --port "$REDIS_PORT" --cidr 0.0.0.0/0 >/dev/null
aws ec2 authorize-security-group-ingress --group-id "$DEFAULT_SG" --protocol tcp --port "$MEMC_PORT" --cidr 0.0.0.0/0 >/dev/null
expect_allowed "redis-cli ping after the rule" redis_ping "$INSTANCE" "$REDIS" "$REDIS_PORT"
expect_allowed "memcstat after the rule" memcached_ping "$INSTANCE" "$MEMC" "$MEMC_PORT"
cachalot explain --from "$INSTANCE" --to redis-demo

step "Real work through the rule"
[ "$(on "$INSTANCE" timeout 2 redis-cli -h "$REDIS" set greeting hello)" = OK ] || fail "redis SET"
[ "$(on "$INSTANCE" timeout 2 redis-cli -h "$REDIS" get greeting)" = hello ] || fail "redis GET"
echo "ok: SET/GET greeting=hello"
echo hello-memcached >"$DATA_DIR/greeting"
(cd "$DATA_DIR" && on "$INSTANCE" timeout 2 memccp --servers="$MEMC:$MEMC_PORT" greeting) || fail "memccp"
[ "$(on "$INSTANCE" timeout 2 memccat --servers="$MEMC:$MEMC_PORT" greeting)" = hello-memcached ] || fail "memccat"
echo "ok: memccp/memccat greeting=hello-memcached"

step "Revoking the rules denies again"
aws ec2 revoke-security-group-ingress --group-id "$DEFAULT_SG" --protocol tcp --port "$REDIS_PORT" --cidr 0.0.0.0/0 >/dev/null
aws ec2 revoke-security-group-ingress --group-id "$DEFAULT_SG" --protocol tcp --port "$MEMC_PORT" --cidr 0.0.0.0/0 >/dev/null
expect_denied "redis-cli ping after the revoke" redis_ping "$INSTANCE" "$REDIS" "$REDIS_PORT"
expect_denied "memcstat after the revoke" memcached_ping "$INSTANCE" "$MEMC" "$MEMC_PORT"
