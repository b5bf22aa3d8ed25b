#!/usr/bin/env bash
# Access from outside AWS through a NAT instance (SEEDS 002, for test and
# development only): a trusted client on the internet (198.51.100.27, an
# "outside" client: a namespace attached to Cachalot's simulated internet)
# connects to an Elastic IP and port of a NAT instance in a public subnet;
# iptables port forwarding on the NAT instance sends the traffic on to the
# Redis and Memcached nodes in the private subnet. Asserted: the cluster is
# reachable from the NAT instance (step 3), not from outside before the
# forwarding rules, from the trusted client after them, never from an
# outside address the security group does not admit.
#
# Needs, besides what every walkthrough needs, iptables (make deps).
#
# NAT_INSTANCE_BENCH=1 adds a figure: redis-benchmark from the trusted client
# through the NAT instance vs. from the NAT instance straight to the node
# (bench/natinstance/run.sh).
source "$(dirname "$0")/lib.sh"
start_cachalot

TRUSTED=198.51.100.27 # the worked example's trusted client
STRANGER=203.0.113.50 # an outside address no rule admits

# outside ADDRESS CMD…: run CMD on a client on the internet holding ADDRESS.
outside() { local a=$1; shift; "$CACHALOT" exec --data-dir "$DATA_DIR" --outside "$a" -- "$@"; }
outside_redis_ping() { [ "$(outside "$1" timeout 2 redis-cli -h "$2" -p "$3" ping 2>/dev/null)" = PONG ]; }
outside_memcached_ping() { grep -q '^Server:' <<<"$(outside "$1" timeout 2 memcstat --servers="$2:$3" 2>/dev/null)"; }

step "A VPC with a public subnet (0.0.0.0/0 to an internet gateway) and a private one"
VPC=$(aws ec2 create-vpc --cidr-block 10.0.0.0/16 --query Vpc.VpcId)
PUBLIC=$(aws ec2 create-subnet --vpc-id "$VPC" --cidr-block 10.0.0.0/24 --query Subnet.SubnetId)
PRIVATE=$(aws ec2 create-subnet --vpc-id "$VPC" --cidr-block 10.0.1.0/24 --query Subnet.SubnetId)
IGW=$(aws ec2 create-internet-gateway --query InternetGateway.InternetGatewayId)
aws ec2 attach-internet-gateway --internet-gateway-id "$IGW" --vpc-id "$VPC"
RTB=$(aws ec2 create-route-table --vpc-id "$VPC" --query RouteTable.RouteTableId)
aws ec2 associate-route-table --route-table-id "$RTB" --subnet-id "$PUBLIC" >/dev/null
aws ec2 create-route --route-table-id "$RTB" --destination-cidr-block 0.0.0.0/0 --gateway-id "$IGW" >/dev/null
echo "$VPC: public $PUBLIC (route table $RTB -> $IGW), private $PRIVATE"

step "Security groups (step 2): one for the NAT instance, one for the cluster"
NAT_SG=$(aws ec2 create-security-group --group-name nat-instance --description "NAT instance" --vpc-id "$VPC" --query GroupId)
CACHE_SG=$(aws ec2 create-security-group --group-name cluster --description "clusters behind the NAT instance" --vpc-id "$VPC" --query GroupId)
# NAT instance inbound: each forwarded port and SSH, from the trusted client only.
aws ec2 authorize-security-group-ingress --group-id "$NAT_SG" --ip-permissions \
  "IpProtocol=tcp,FromPort=6379,ToPort=6381,IpRanges=[{CidrIp=$TRUSTED/32}]" \
  "IpProtocol=tcp,FromPort=11211,ToPort=11213,IpRanges=[{CidrIp=$TRUSTED/32}]" \
  "IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=$TRUSTED/32}]" >/dev/null
# NAT instance outbound: the cache ports, to the cluster's group only.
aws ec2 revoke-security-group-egress --group-id "$NAT_SG" --ip-permissions 'IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]' >/dev/null
aws ec2 authorize-security-group-egress --group-id "$NAT_SG" --ip-permissions \
  "IpProtocol=tcp,FromPort=6379,ToPort=6379,UserIdGroupPairs=[{GroupId=$CACHE_SG}]" \
  "IpProtocol=tcp,FromPort=11211,ToPort=11211,UserIdGroupPairs=[{GroupId=$CACHE_SG}]" >/dev/null
# Cluster inbound: the cache ports, from the NAT instance's group.
aws ec2 authorize-security-group-ingress --group-id "$CACHE_SG" --ip-permissions \
  "IpProtocol=tcp,FromPort=6379,ToPort=6379,UserIdGroupPairs=[{GroupId=$NAT_SG}]" \
  "IpProtocol=tcp,FromPort=11211,ToPort=11211,UserIdGroupPairs=[{GroupId=$NAT_SG}]" >/dev/null
echo "NAT instance $NAT_SG, cluster $CACHE_SG"

step "A Redis OSS and a Memcached cluster in the private subnet"
aws elasticache create-cache-subnet-group --cache-subnet-group-name private \
  --cache-subnet-group-description "the private subnet" --subnet-ids "$PRIVATE" >/dev/null
aws elasticache create-cache-cluster --cache-cluster-id outside-redis --engine redis \
  --cache-node-type cache.t3.micro --num-cache-nodes 1 --cache-subnet-group-name private \
  --security-group-ids "$CACHE_SG" >/dev/null
aws elasticache create-cache-cluster --cache-cluster-id outside-memcached --engine memcached \
  --cache-node-type cache.t3.micro --num-cache-nodes 1 --cache-subnet-group-name private \
  --security-group-ids "$CACHE_SG" >/dev/null

step "The NAT instance in the public subnet (step 1), with an Elastic IP"
NAT=$(launch "$PUBLIC" "$NAT_SG")
NAT_IP=$(aws ec2 describe-instances --instance-ids "$NAT" --query 'Reservations[0].Instances[0].PrivateIpAddress')
read -r ALLOC EIP < <(aws ec2 allocate-address --domain vpc --query '[AllocationId,PublicIp]')
aws ec2 associate-address --allocation-id "$ALLOC" --instance-id "$NAT" >/dev/null
read -r REDIS RPORT < <(wait_cluster outside-redis)
read -r MEMC MPORT < <(wait_cluster outside-memcached)
echo "NAT instance $NAT at $NAT_IP, Elastic IP $EIP; Redis $REDIS:$RPORT, Memcached $MEMC:$MPORT"
# iptables takes addresses: the endpoint names resolve on the instance,
# through the VPC's DNS server.
REDIS_IP=$(on "$NAT" getent hosts "$REDIS" | awk '{print $1}')
MEMC_IP=$(on "$NAT" getent hosts "$MEMC" | awk '{print $1}')
[ -n "$REDIS_IP" ] && [ -n "$MEMC_IP" ] || fail "the endpoint names do not resolve on the NAT instance"
echo "on the NAT instance, $REDIS is $REDIS_IP and $MEMC is $MEMC_IP"

step "Validate (step 3): from the NAT instance, the clusters answer"
expect_allowed "NAT instance to Redis" redis_ping "$NAT" "$REDIS" "$RPORT"
expect_allowed "NAT instance to Memcached" memcached_ping "$NAT" "$MEMC" "$MPORT"

step "Before the port forwarding, the trusted client gets nowhere"
expect_denied "trusted client to $EIP:6379 without forwarding" outside_redis_ping "$TRUSTED" "$EIP" 6379
expect_denied "trusted client to $EIP:11211 without forwarding" outside_memcached_ping "$TRUSTED" "$EIP" 11211

step "Port forwarding on the NAT instance (step 4), as root on the instance"
on "$NAT" iptables -t nat -A PREROUTING -i eth0 -p tcp --dport 6379 -j DNAT --to "$REDIS_IP:$RPORT"
on "$NAT" iptables -t nat -A PREROUTING -i eth0 -p tcp --dport 11211 -j DNAT --to "$MEMC_IP:$MPORT"
on "$NAT" iptables -t nat -A POSTROUTING -o eth0 -j SNAT --to-source "$NAT_IP"
on "$NAT" sysctl -w net.ipv4.ip_forward=1
on "$NAT" iptables -t nat -S

step "The trusted client connects to the Elastic IP (step 5)"
expect_allowed "trusted client to Redis at $EIP:6379" outside_redis_ping "$TRUSTED" "$EIP" 6379
[ "$(outside "$TRUSTED" timeout 2 redis-cli -h "$EIP" -p 6379 set greeting from-outside)" = OK ] || fail "SET from outside"
[ "$(on "$NAT" timeout 2 redis-cli -h "$REDIS" -p "$RPORT" get greeting)" = from-outside ] || fail "the value set from outside is not in the node"
# The node sees the NAT instance (SNAT), not the client.
grep -q "addr=$NAT_IP:" <<<"$(outside "$TRUSTED" timeout 2 redis-cli -h "$EIP" -p 6379 client list)" ||
  fail "the node does not see the NAT instance's address"
echo "ok: the node sees the connection from $NAT_IP"
expect_allowed "trusted client to Memcached at $EIP:11211" outside_memcached_ping "$TRUSTED" "$EIP" 11211
expect_denied "$STRANGER (no rule admits it) to $EIP:6379" outside_redis_ping "$STRANGER" "$EIP" 6379
expect_denied "$STRANGER (no rule admits it) to $EIP:11211" outside_memcached_ping "$STRANGER" "$EIP" 11211

step "Addresses of the Elastic IP pool or of a VPC cannot be outside clients"
if out=$(outside 100.64.1.1 true 2>&1); then fail "an outside client took 100.64.1.1"; fi
grep -q "Elastic IP pool" <<<"$out" || fail "no clear refusal: $out"
echo "ok: refused: $out"

if [ "${NAT_INSTANCE_BENCH:-}" = 1 ]; then
  step "Throughput: the trusted client through the NAT instance vs. the NAT instance straight to the node"
  N=${BENCH_REQUESTS:-20000}
  # redis-benchmark prints progress with carriage returns; keep the results.
  results() { tr '\r' '\n' | grep 'requests per second'; }
  for round in 1 2 3; do
    echo "-- round $round: from outside, $TRUSTED -> $EIP:6379 -> NAT instance -> $REDIS:$RPORT"
    outside "$TRUSTED" timeout 300 redis-benchmark -h "$EIP" -p 6379 -q -t ping,set -n "$N" | results
    echo "-- round $round: inside the VPC, $NAT ($NAT_IP) -> $REDIS:$RPORT"
    on "$NAT" timeout 300 redis-benchmark -h "$REDIS" -p "$RPORT" -q -t ping,set -n "$N" | results
  done
fi
