// Package ec2 owns Cachalot's EC2 network model and its API: VPCs, subnets,
// security groups and their rules, instances (records; the instance
// controller runs their user data), network interfaces, Elastic IPs,
// internet gateways, route tables, default network ACLs, VPC peering and
// tags, per account and region; and what infrastructure tools read and
// write around instances: the instance type catalogue (instancetypes.go),
// every instance attribute, credit specification and metadata option
// (instanceattrs.go), state changes and status checks (instancestate.go),
// a catalogue of public images plus the account's own (images.go), key
// pairs (keypairs.go), launch templates (launchtemplates.go,
// ltversions.go), EBS volumes as records (volumes.go, volumeops.go),
// subnet attributes and retired ClassicLink (subnetattrs.go), IAM instance
// profile associations (profiles.go; profiles resolved through the
// InstanceProfiles interface the wiring implements over IAM) and what the
// instance metadata service serves (metadata.go). params.go
// declares, per operation, which input parameters are handled and which
// refused by name, checked against the generated shapes by a test. It implements
// ec2api.Operations (the wire contract generated from botocore's model) and a
// Go API for other packages (api.go: requester-managed interfaces for
// ElastiCache, default VPC lookups, group validation, Topology for netplane;
// resources.go: the ARNs each operation acts on, for IAM's authorization;
// console.go: instance consoles, written by the instance controller and
// read by GetConsoleOutput).
//
// Every error code the service returns is in one table, errors.go (code,
// HTTP status, message), the counterpart of the generated zz_errors.go of
// the other services. Every API call validates its input, then writes the desired state in one
// store.Update transaction; nothing changes when it fails. Keys are
// ec2/<account>/<region>/<kind>/<id> (state.go explains the meta record, the
// per-scope cache and the two indexes). A scope (account, region) is created
// on first use inside the transaction that first needs it: a VPC-only account
// gets the default VPC 172.31.0.0/16 with a default subnet per zone
// (<region>a, b, c), its default group, a main route table routing 0.0.0.0/0
// to an attached internet gateway, and the default network ACL.
// An account with EC2-Classic has instead a classic network per region
// (classic.go), exported by Topology as a synthetic VPC. Requester-managed
// interfaces labelled for service peering (servicepeering.go: the nodes of
// one ElastiCache replication group) share a synthetic group admitting TCP
// among them, as AWS's replication does not cross security groups.
//
// The realisation in the kernel belongs to netplane; the pure security-group
// evaluator is the sub-package sgeval, which reads a Topology.
//
// Only the wiring package, elasticache, the controllers (vpcnet,
// instancectl), the instance metadata service (imds), netplane, sgeval and
// tools import ec2.
package ec2
