#!/usr/bin/env bash
# Access from another VPC through VPC peering (SEEDS 002): an instance in VPC
# 10.1.0.0/16 reaches a Redis cluster in the default VPC (172.31.0.0/16) only
# once (1) a peering connection is requested and accepted, (2) each side's
# route table routes the other's CIDR through it, and (3) the cache's group
# admits the peer — by CIDR here, by group reference across the peering
# further down. Every step before the last is asserted to be not enough.
source "$(dirname "$0")/lib.sh"
start_cachalot

step "The cache in the default VPC, the client in a VPC of its own"
DEFAULT_VPC=$(aws ec2 describe-vpcs --filters Name=is-default,Values=true --query 'Vpcs[0].VpcId')
DEFAULT_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=default Name=vpc-id,Values="$DEFAULT_VPC" --query 'SecurityGroups[0].GroupId')
aws elasticache create-cache-cluster --cache-cluster-id peered-cache --engine redis \
  --cache-node-type cache.t3.micro --num-cache-nodes 1 >/dev/null
PEER_VPC=$(aws ec2 create-vpc --cidr-block 10.1.0.0/16 --query 'Vpc.VpcId')
PEER_SUBNET=$(aws ec2 create-subnet --vpc-id "$PEER_VPC" --cidr-block 10.1.1.0/24 --query 'Subnet.SubnetId')
PEER_SG=$(aws ec2 create-security-group --group-name clients --description "clients in the peer VPC" --vpc-id "$PEER_VPC" --query GroupId)
read -r REDIS PORT < <(wait_cluster peered-cache)
CLIENT=$(launch "$PEER_SUBNET" "$PEER_SG")
echo "cache $REDIS:$PORT in $DEFAULT_VPC; client $CLIENT in $PEER_VPC"
expect_denied "client before peering" redis_ping "$CLIENT" "$REDIS" "$PORT"
explain_says 'missing peering' "$CLIENT" peered-cache

step "Peering: request from the client's VPC, accept"
PCX=$(aws ec2 create-vpc-peering-connection --vpc-id "$PEER_VPC" --peer-vpc-id "$DEFAULT_VPC" --query 'VpcPeeringConnection.VpcPeeringConnectionId')
aws ec2 accept-vpc-peering-connection --vpc-peering-connection-id "$PCX" >/dev/null
echo "peering $PCX active"
expect_denied "client with peering but no routes" redis_ping "$CLIENT" "$REDIS" "$PORT"
explain_says 'missing route' "$CLIENT" peered-cache

step "Routes on both sides"
RTB_DEFAULT=$(aws ec2 describe-route-tables --filters Name=vpc-id,Values="$DEFAULT_VPC" Name=association.main,Values=true --query 'RouteTables[0].RouteTableId')
RTB_PEER=$(aws ec2 describe-route-tables --filters Name=vpc-id,Values="$PEER_VPC" Name=association.main,Values=true --query 'RouteTables[0].RouteTableId')
aws ec2 create-route --route-table-id "$RTB_DEFAULT" --destination-cidr-block 10.1.0.0/16 --vpc-peering-connection-id "$PCX" >/dev/null
expect_denied "client with a route on one side only" redis_ping "$CLIENT" "$REDIS" "$PORT"
aws ec2 create-route --route-table-id "$RTB_PEER" --destination-cidr-block 172.31.0.0/16 --vpc-peering-connection-id "$PCX" >/dev/null
expect_denied "client with routes but no rule" redis_ping "$CLIENT" "$REDIS" "$PORT"
explain_says 'missing ingress' "$CLIENT" peered-cache

step "A rule admitting the peer VPC's CIDR on the cache's port"
aws ec2 authorize-security-group-ingress --group-id "$DEFAULT_SG" --protocol tcp --port "$PORT" --cidr 10.1.0.0/16 >/dev/null
expect_allowed "client through the peering" redis_ping "$CLIENT" "$REDIS" "$PORT"
[ "$(on "$CLIENT" timeout 2 redis-cli -h "$REDIS" set via "$PCX")" = OK ] || fail "SET through the peering"
explain_says ALLOWED "$CLIENT" peered-cache

step "The same with a reference to the peer's group instead of its CIDR"
aws ec2 revoke-security-group-ingress --group-id "$DEFAULT_SG" --protocol tcp --port "$PORT" --cidr 10.1.0.0/16 >/dev/null
expect_denied "client after revoking the CIDR rule" redis_ping "$CLIENT" "$REDIS" "$PORT"
aws ec2 authorize-security-group-ingress --group-id "$DEFAULT_SG" \
  --ip-permissions "IpProtocol=tcp,FromPort=$PORT,ToPort=$PORT,UserIdGroupPairs=[{GroupId=$PEER_SG,VpcPeeringConnectionId=$PCX}]" >/dev/null
expect_allowed "client admitted by its group across the peering" redis_ping "$CLIENT" "$REDIS" "$PORT"

step "Deleting the peering cuts the path again"
aws ec2 delete-vpc-peering-connection --vpc-peering-connection-id "$PCX" >/dev/null
expect_denied "client after deleting the peering" redis_ping "$CLIENT" "$REDIS" "$PORT"
