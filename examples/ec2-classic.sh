#!/usr/bin/env bash
# EC2-Classic (SEEDS 001, 002): the instance's EC2 security group must be
# authorized on the cache security group. In an account that has EC2-Classic,
# instances launched without a subnet and clusters launched with cache
# security groups share the account's classic network; a cluster admits on
# its port exactly the EC2 groups authorized on its cache security groups.
# Nobody connects before the authorization, the authorized group's instance
# does after it (another group's does not), and nobody does after the
# revocation. A VPC-only account is refused cache security groups, as on AWS.
source "$(dirname "$0")/lib.sh"
start_cachalot
VPC_KEY=$AWS_ACCESS_KEY_ID VPC_SECRET=$AWS_SECRET_ACCESS_KEY

step "An account with EC2-Classic, and its credentials"
creds=$("$CACHALOT" account create --data-dir "$DATA_DIR" --name classic-shop --ec2-classic)
eval "$creds"
ACCT=$(aws sts get-caller-identity --query Account)
platforms=$(aws ec2 describe-account-attributes --attribute-names supported-platforms --query 'AccountAttributes[0].AttributeValues[].AttributeValue')
echo "account $ACCT, supported platforms: $platforms"
[ "$platforms" = "$(printf 'EC2\tVPC')" ] || fail "supported-platforms is '$platforms', want EC2 and VPC"

step "EC2-Classic security groups and instances (no subnet, groups by name)"
aws ec2 create-security-group --group-name app --description "application servers" >/dev/null
aws ec2 create-security-group --group-name other --description "other workloads" >/dev/null
launch_classic() {
  local id
  id=$(aws ec2 run-instances --image-id ami-12345678 --instance-type t3.micro --count 1 --security-groups "$1" --query 'Instances[0].InstanceId')
  for _ in $(seq 1 100); do
    on "$id" true 2>/dev/null && { echo "$id"; return; }
    sleep 0.1
  done
  fail "instance $id has no network after 10s"
}
APP=$(launch_classic app)
OTHER=$(launch_classic other)
aws ec2 describe-instances --instance-ids "$APP" --query 'Reservations[0].Instances[0].[InstanceId,PrivateIpAddress,VpcId,SecurityGroups[0].GroupName]'
vpc=$(aws ec2 describe-instances --instance-ids "$APP" --query 'Reservations[0].Instances[0].VpcId')
[ "$vpc" = None ] || fail "the classic instance is in VPC $vpc"

step "A cache security group and a Redis OSS cluster in EC2-Classic"
aws elasticache create-cache-security-group --cache-security-group-name mycsg --description "web cache" >/dev/null
aws elasticache create-cache-cluster --cache-cluster-id classic-web --engine redis \
  --cache-node-type cache.t3.micro --num-cache-nodes 1 --cache-security-group-names mycsg >/dev/null
read -r REDIS PORT < <(wait_cluster classic-web)
aws elasticache describe-cache-clusters --cache-cluster-id classic-web --query 'CacheClusters[0].CacheSecurityGroups'
echo "redis at $REDIS:$PORT; app instance $APP; other instance $OTHER"
expect_denied "app instance before the authorization" redis_ping "$APP" "$REDIS" "$PORT"
expect_denied "other instance before the authorization" redis_ping "$OTHER" "$REDIS" "$PORT"

step "Authorize the EC2 security group 'app' on the cache security group"
aws elasticache authorize-cache-security-group-ingress --cache-security-group-name mycsg \
  --ec2-security-group-name app --ec2-security-group-owner-id "$ACCT" \
  --query 'CacheSecurityGroup.EC2SecurityGroups[].[EC2SecurityGroupName,Status]'
expect_allowed "app instance after the authorization" redis_ping "$APP" "$REDIS" "$PORT"
expect_denied "other instance after the authorization" redis_ping "$OTHER" "$REDIS" "$PORT"
explain_says ALLOWED "$APP" classic-web
explain_says DENIED "$OTHER" classic-web

step "A cache security group in use cannot be deleted"
if out=$(aws elasticache delete-cache-security-group --cache-security-group-name mycsg 2>&1); then
  fail "deleted a cache security group in use"
fi
grep -q InvalidCacheSecurityGroupState <<<"$out" || fail "unexpected refusal: $out"
echo "ok: refused ($out)"

step "Revoke: new connections are refused again"
aws elasticache revoke-cache-security-group-ingress --cache-security-group-name mycsg \
  --ec2-security-group-name app --ec2-security-group-owner-id "$ACCT" >/dev/null
expect_denied "app instance after the revocation" redis_ping "$APP" "$REDIS" "$PORT"

step "A VPC-only account is refused cache security groups"
if out=$(AWS_ACCESS_KEY_ID=$VPC_KEY AWS_SECRET_ACCESS_KEY=$VPC_SECRET \
  aws elasticache create-cache-security-group --cache-security-group-name mycsg --description x 2>&1); then
  fail "a VPC-only account created a cache security group"
fi
grep -q "not permitted in this API version for your account" <<<"$out" || fail "unexpected refusal: $out"
echo "ok: refused ($out)"
