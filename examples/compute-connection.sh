#!/usr/bin/env bash
# "Connect an instance and a cache automatically" (SEEDS 000) with the
# cachalot CLI: connect-compute creates the pair of security groups
# (elasticache-ec2-CACHE:INSTANCE on the cache, ec2-elasticache-INSTANCE:CACHE
# on the instance), re-running changes nothing, connected-compute lists the
# instance, disconnect-compute removes exactly what was created. An instance
# of another VPC is refused.
source "$(dirname "$0")/lib.sh"
start_cachalot

step "A cache and an instance in the same VPC, no rule between them"
aws elasticache create-cache-cluster --cache-cluster-id app-cache --engine redis \
  --cache-node-type cache.t3.micro --num-cache-nodes 1 >/dev/null
APP_SG=$(aws ec2 create-security-group --group-name web --description "web servers" --query GroupId)
read -r REDIS PORT < <(wait_cluster app-cache)
INSTANCE=$(launch - "$APP_SG")
expect_denied "instance before connect-compute" redis_ping "$INSTANCE" "$REDIS" "$PORT"

step "cachalot connect-compute"
cachalot connect-compute --cache app-cache --instance "$INSTANCE"
expect_allowed "instance after connect-compute" redis_ping "$INSTANCE" "$REDIS" "$PORT"
read -r _ >/dev/null < <(wait_cluster app-cache)
before=$(aws ec2 describe-security-groups --query 'length(SecurityGroups)')
again=$(cachalot connect-compute --cache app-cache --instance "$INSTANCE")
grep -q 'already connected' <<<"$again" || fail "re-running changed something: $again"
after=$(aws ec2 describe-security-groups --query 'length(SecurityGroups)')
[ "$before" = "$after" ] || fail "re-running created groups ($before -> $after)"
echo "ok: re-running changes nothing ($after groups)"
aws ec2 describe-security-groups --filters "Name=group-name,Values=elasticache-ec2-app-cache:$INSTANCE,ec2-elasticache-$INSTANCE:app-cache" \
  --query 'SecurityGroups[].[GroupName,GroupId]'
grep -q "^$INSTANCE" <<<"$(cachalot connected-compute --cache app-cache)" || fail "connected-compute does not list $INSTANCE"
echo "ok: connected-compute lists $INSTANCE"
cachalot explain --from "$INSTANCE" --to app-cache

step "cachalot disconnect-compute"
cachalot disconnect-compute --cache app-cache --instance "$INSTANCE"
expect_denied "instance after disconnect-compute" redis_ping "$INSTANCE" "$REDIS" "$PORT"
left=$(aws ec2 describe-security-groups --query 'length(SecurityGroups)')
[ "$left" = $((after - 2)) ] || fail "disconnect left $left groups, want $((after - 2))"
echo "ok: the two groups are gone"

step "An instance of another VPC is refused"
VPC=$(aws ec2 create-vpc --cidr-block 10.2.0.0/16 --query 'Vpc.VpcId')
SUBNET=$(aws ec2 create-subnet --vpc-id "$VPC" --cidr-block 10.2.1.0/24 --query 'Subnet.SubnetId')
FAR_SG=$(aws ec2 describe-security-groups --filters Name=vpc-id,Values="$VPC" --query 'SecurityGroups[0].GroupId')
FAR=$(launch "$SUBNET" "$FAR_SG")
if out=$(cachalot connect-compute --cache app-cache --instance "$FAR" 2>&1); then fail "connected across VPCs: $out"; fi
echo "$out"
grep -q "Create an instance in" <<<"$out" || fail "the refusal does not point to creating an instance in the cache's VPC"
