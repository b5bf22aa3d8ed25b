package elasticache

import (
	"github.com/cachalot-dev/cachalot/internal/paramtable"
)

// No silent parameter: an input field an operation does not read is
// placed here — refused with InvalidParameterCombination naming it (unless
// set to its default or to an allowed value), or accepted with the reason
// it changes nothing. TestNoSilentParameter (apicheck) fails on any field
// of an implemented operation that is neither read nor placed; the
// refusals are answered by RefuseParams, which the wiring calls before the
// operation runs.

// paramTable places the unread fields of one operation's input.
type paramTable struct {
	refused  map[string]string   // field → reason
	allowed  map[string][]string // values of a refused string field that are accepted
	noEffect map[string]string   // field → why it changes nothing
}

const (
	noSNS       = "Amazon SNS notifications are not supported by Cachalot (events are in DescribeEvents)."
	noLogs      = "Log delivery to CloudWatch Logs or Kinesis Data Firehose is not supported by Cachalot (cachalot logs shows the engine's log)."
	noIPv6      = "Cachalot caches use IPv4 only."
	noOutposts  = "Outposts are not supported by Cachalot."
	ipv4Network = "ipv4"
)

var paramTables = map[string]paramTable{
	"CreateCacheCluster": {
		refused: map[string]string{"IpDiscovery": noIPv6, "NetworkType": noIPv6, "NotificationTopicArn": noSNS, "LogDeliveryConfigurations": noLogs,
			"OutpostMode": noOutposts, "PreferredOutpostArn": noOutposts, "PreferredOutpostArns": noOutposts},
		allowed: map[string][]string{"IpDiscovery": {ipv4Network}, "NetworkType": {ipv4Network}, "OutpostMode": {"single-outpost"}},
	},
	"CreateReplicationGroup": {
		refused: map[string]string{"IpDiscovery": noIPv6, "NetworkType": noIPv6, "NotificationTopicArn": noSNS},
		allowed: map[string][]string{"IpDiscovery": {ipv4Network}, "NetworkType": {ipv4Network}},
	},
	"ModifyCacheCluster": {
		refused: map[string]string{"IpDiscovery": noIPv6, "NotificationTopicArn": noSNS, "NotificationTopicStatus": noSNS, "LogDeliveryConfigurations": noLogs,
			"AZMode":      "Placing new Memcached nodes across zones on modify is not supported by Cachalot yet; give NewAvailabilityZones.",
			"ScaleConfig": "Vertical scaling of Memcached clusters is not supported by Cachalot yet."},
		allowed: map[string][]string{"IpDiscovery": {ipv4Network}, "NotificationTopicStatus": {"inactive"}, "AZMode": {"single-az"}},
	},
	"ModifyReplicationGroup": {
		refused: map[string]string{"IpDiscovery": noIPv6, "NotificationTopicArn": noSNS, "NotificationTopicStatus": noSNS},
		allowed: map[string][]string{"IpDiscovery": {ipv4Network}, "NotificationTopicStatus": {"inactive"}},
	},
}

// refuseParams answers InvalidParameterCombination for the first refused
// field of op's table that in (a pointer to the input shape) sets.
func refuseParams(op string, in any) error {
	tab := paramTables[op]
	if name, reason, ok := paramtable.FirstRefused(in, tab.refused, tab.allowed); ok {
		return combination("The parameter %s is not supported: %s", name, reason)
	}
	return nil
}

// RefuseParams answers the first refused parameter of operation op that in
// (a pointer to its input shape) sets. The wiring calls it before every
// operation the endpoint serves, so no operation runs with a parameter it
// would silently ignore.
func RefuseParams(op string, in any) error { return refuseParams(op, in) }
