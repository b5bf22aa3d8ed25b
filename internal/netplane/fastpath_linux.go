package netplane

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The fast path: a tc (TCX) ingress program on the router-side link of each
// interface that forwards, without the router's IP stack and netfilter, the
// packets of TCP connections the router has already accepted between two
// interfaces of one subnet. See the design note (doc.go, "Fast path").
//
// A packet takes it only if all of these hold; anything else returns
// TCX_NEXT and takes the router's ordinary path, where nftables decides:
//
//   - IPv4 without options or fragmentation, TCP, TTL > 1, none of SYN, FIN
//     and RST (connection setup and teardown always cross conntrack);
//   - its source address is in the router's fast-path map, as the primary
//     address of the interface whose link it came in by;
//   - its destination address is in the map too, as the primary address of
//     an interface of the same subnet: the map gives that interface's
//     router-side link (the route the plane made for the address) and the
//     Ethernet addresses of both ends of its veth pair;
//   - the router's conntrack holds its connection (bpf_skb_ct_lookup),
//     confirmed, having seen a reply, in TCP state ESTABLISHED, not dying
//     and without NAT.
//
// A packet that passed these checks puts its flow (its tuple, the link it
// came by, the link and Ethernet addresses it went to) in the router's flow
// cache, an LRU map, for fastPathFlowTTL; a packet of a cached flow coming
// in by the same link is forwarded on the cache's word, without the two
// map lookups and the conntrack lookup (about 0.3 µs a packet, BENCH.md).
// So a conntrack entry deleted or flushed by hand stops a flow within
// fastPathFlowTTL rather than at once; the plane's own changes to the map
// empty the cache, and a SYN, FIN or RST removes its flow both ways, so a
// connection's teardown is checked packet by packet as before.
//
// It then rewrites the Ethernet addresses from the map, decrements the TTL
// (fixing the header checksum), refreshes the entry's timeout as the slow
// path would once half of it has run down (refreshTimeout), and hands the
// packet to the destination's namespace (bpf_redirect_peer).
//
// The map, keyed by interface address, is the plane's own: it made the
// links, their addresses and the /32 routes, so it needs no FIB lookup
// (about 230 ns a packet, BENCH.md). An interface whose eth0 address the
// plane cannot read gets no entry, so its packets take the slow path both
// ways. All links of the plane have the kernel's default MTU, so the FIB's
// MTU check has nothing to refuse.

// fastPathValue is a fast-path map value, keyed by an interface's primary
// address as the packet carries it (network byte order): the router-side
// link of its veth pair (ifindex in the router namespace), the subnet tag
// (the link's gateway address, network byte order), the link's Ethernet
// address (the source of a packet sent to the interface) and that of the
// interface's eth0 in its namespace (the destination).
type fastPathValue struct {
	Ifindex uint32
	Subnet  [4]byte
	SrcMAC  [6]byte
	DstMAC  [6]byte
}

// flowValue is a flow-cache value, keyed by a packet's conntrack tuple
// (source and destination address, source and destination port, as the
// packet carries them): until Expiry (in jiffies) a packet of that tuple
// coming in by link Ingress goes to link Ifindex with these Ethernet
// addresses without the two map lookups and the conntrack lookup, which
// the program did on the packet that filled the entry.
type flowValue struct {
	Expiry  uint64
	Ingress uint32
	Ifindex uint32
	SrcMAC  [6]byte
	DstMAC  [6]byte
	_       [4]byte
}

const (
	fastPathProgName  = "cachalot_fp"
	fastPathMapName   = "cachalot_fp"
	fastPathFlowsName = "cachalot_fpflow"
	fastPathMaxLinks  = 1 << 16
	// fastPathMaxFlows bounds the flow cache (an LRU map, two entries a
	// connection): a flow it evicted is checked against conntrack again.
	fastPathMaxFlows = 1 << 14
	// fastPathFlowTTL is how long a flow the program checked against the
	// maps and conntrack is forwarded without checking again: the time a
	// conntrack entry deleted or flushed by hand, or a map entry the plane
	// removed, may still let its packets through. The plane's own changes
	// to the map clear the cache; a FIN, SYN or RST removes its flow both
	// ways at once.
	fastPathFlowTTL = 20 * time.Millisecond
	// ctEstablishedTimeoutMs is nf_conntrack_tcp_timeout_established's
	// default (5 days), the timeout the slow path gives an established entry.
	ctEstablishedTimeoutMs = 432000 * 1000
)

// kfuncIDs are the BTF ids of the conntrack kfuncs in vmlinux.
type kfuncIDs struct{ lookup, release, timeout btf.TypeID }

var (
	kfuncOnce sync.Once
	kfuncs    kfuncIDs
	kfuncErr  error
)

func loadKfuncs() (kfuncIDs, error) {
	kfuncOnce.Do(func() {
		spec, err := btf.LoadKernelSpec()
		if err != nil {
			kfuncErr = fmt.Errorf("kernel BTF: %w", err)
			return
		}
		id := func(name string) btf.TypeID {
			var fn *btf.Func
			if err := spec.TypeByName(name, &fn); err != nil {
				kfuncErr = errors.Join(kfuncErr, fmt.Errorf("kfunc %s: %w", name, err))
				return 0
			}
			i, err := spec.TypeID(fn)
			if err != nil {
				kfuncErr = errors.Join(kfuncErr, fmt.Errorf("kfunc %s: %w", name, err))
			}
			return i
		}
		kfuncs = kfuncIDs{id("bpf_skb_ct_lookup"), id("bpf_ct_release"), id("bpf_ct_change_timeout")}
		// Offsets of struct nf_conn read by the program, checked against
		// the kernel's BTF rather than assumed.
		var ct *btf.Struct
		if err := spec.TypeByName("nf_conn", &ct); err != nil {
			kfuncErr = errors.Join(kfuncErr, fmt.Errorf("struct nf_conn: %w", err))
			return
		}
		status, proto, timeout := -1, -1, -1
		for _, m := range ct.Members {
			switch m.Name {
			case "status":
				status = int(m.Offset.Bytes())
			case "timeout":
				timeout = int(m.Offset.Bytes())
			case "proto":
				proto = int(m.Offset.Bytes())
			}
		}
		var tcp *btf.Struct
		state := -1
		if err := spec.TypeByName("ip_ct_tcp", &tcp); err == nil {
			for _, m := range tcp.Members {
				if m.Name == "state" {
					state = int(m.Offset.Bytes())
				}
			}
		}
		if status < 0 || proto < 0 || state < 0 || timeout < 0 {
			kfuncErr = errors.Join(kfuncErr, fmt.Errorf("struct nf_conn: status, timeout, proto or proto.tcp.state not found in kernel BTF"))
			return
		}
		ctStatusOff, ctStateOff, ctTimeoutOff = int16(status), int16(proto+state), int16(timeout)
		hz := kernelHZ()
		ctRefreshBelow = int32(ctEstablishedTimeoutMs / 2 / 1000 * hz)
		flowTTLJiffies = int32((int64(fastPathFlowTTL)*hz + int64(time.Second) - 1) / int64(time.Second))
	})
	return kfuncs, kfuncErr
}

// Offsets in struct nf_conn, set from the kernel's BTF by loadKfuncs.
var ctStatusOff, ctStateOff, ctTimeoutOff int16

// zero64 stores a 64-bit zero at fp+off (asm.StoreImm refuses DWord).
func zero64(off int16) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: asm.RFP, Offset: off}
}

func kfuncCall(id btf.TypeID) asm.Instruction {
	return asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call), Src: asm.PseudoKfuncCall, Constant: int64(id)}
}

// Conntrack status bits (include/uapi/linux/netfilter/nf_conntrack_common.h).
const (
	ipsSeenReply            = 1 << 1
	ipsConfirmed            = 1 << 3
	ipsSrcNAT               = 1 << 4
	ipsDstNAT               = 1 << 5
	ipsDying                = 1 << 9
	tcpConntrackEstablished = 3
)

// fastPathInstructions is the program, reading the fast-path map m and
// keeping its flow cache in flows (see flowValue).
func fastPathInstructions(m, flows *ebpf.Map, k kfuncIDs) asm.Instructions {
	const (
		// __sk_buff offsets
		skbIfindex = 40
		skbData    = 76
		skbDataEnd = 80
		// stack: the conntrack tuple at fp-16 (12 bytes: source and
		// destination address, which are also the map keys, then ports;
		// the flow cache's key), struct bpf_ct_opts at fp-32, the
		// reverse tuple at fp-48, a flowValue at fp-80.
		tuple  = -16
		opts   = -32
		rtuple = -48
		flow   = -80
		// fastPathValue offsets
		valIfindex = 0
		valSubnet  = 4
		valSrcMAC  = 8
		valDstMAC  = 14
		// flowValue offsets
		flowExpiry  = 0
		flowIngress = 8
		flowIfindex = 12
		flowSrcMAC  = 16
		flowDstMAC  = 22
		flowPad     = 28
		// packet offsets (Ethernet, IPv4 without options, TCP)
		ipVHL   = 14
		ipFrag  = 20
		ipTTL   = 22
		ipProto = 23
		ipCsum  = 24
		ipSrc   = 26
		ipDst   = 30
		tcpSrc  = 34
		tcpDst  = 36
		tcpFlag = 47
		hdrEnd  = 54
	)
	R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, FP := asm.R0, asm.R1, asm.R2, asm.R3, asm.R4, asm.R5, asm.R6, asm.R7, asm.R8, asm.R9, asm.RFP
	loadPacket := asm.Instructions{
		asm.LoadMem(R2, R6, skbData, asm.Word),
		asm.LoadMem(R3, R6, skbDataEnd, asm.Word),
		asm.Mov.Reg(R4, R2),
		asm.Add.Imm(R4, hdrEnd),
		asm.JGT.Reg(R4, R3, "pass"),
	}
	copy4 := func(dst, src asm.Register, to, from int16) asm.Instructions {
		return copyMem(dst, src, to, from, asm.Word)
	}
	copy2 := func(dst, src asm.Register, to, from int16) asm.Instructions {
		return copyMem(dst, src, to, from, asm.Half)
	}
	insns := asm.Instructions{asm.Mov.Reg(R6, R1)}
	insns = append(insns, loadPacket...)
	insns = append(insns,
		asm.LoadMem(R4, R2, 12, asm.Half), // EtherType, network order
		asm.JNE.Imm(R4, 0x0008, "pass"),   // ETH_P_IP
		asm.LoadMem(R4, R2, ipVHL, asm.Byte),
		asm.JNE.Imm(R4, 0x45, "pass"),
		asm.LoadMem(R4, R2, ipProto, asm.Byte),
		asm.JNE.Imm(R4, 6, "pass"),
		asm.LoadMem(R4, R2, ipFrag, asm.Half),
		asm.And.Imm(R4, 0xff3f), // MF | fragment offset, network order
		asm.JNE.Imm(R4, 0, "pass"),
		asm.LoadMem(R4, R2, ipTTL, asm.Byte),
		asm.JLE.Imm(R4, 1, "pass"),
		zero64(tuple),
		zero64(tuple+8),
	)
	insns = append(insns, copy4(FP, R2, tuple, ipSrc)...)
	insns = append(insns, copy4(FP, R2, tuple+4, ipDst)...)
	insns = append(insns, copy2(FP, R2, tuple+8, tcpSrc)...)
	insns = append(insns, copy2(FP, R2, tuple+10, tcpDst)...)
	insns = append(insns,
		asm.LoadMem(R4, R2, tcpFlag, asm.Byte),
		asm.And.Imm(R4, 0x07), // FIN | SYN | RST
		asm.JNE.Imm(R4, 0, "teardown"),
		// The flow cache: a flow the program checked less than
		// fastPathFlowTTL ago, coming in by the same link.
		asm.LoadMapPtr(R1, flows.FD()),
		asm.Mov.Reg(R2, FP),
		asm.Add.Imm(R2, tuple),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(R0, 0, "check"),
		asm.Mov.Reg(R7, R0),
		asm.LoadMem(R4, R7, flowIngress, asm.Word),
		asm.LoadMem(R5, R6, skbIfindex, asm.Word),
		asm.JNE.Reg(R4, R5, "check"),
		asm.FnJiffies64.Call(),
		asm.LoadMem(R4, R7, flowExpiry, asm.DWord),
		asm.Sub.Reg(R4, R0),
		asm.JSGT.Imm(R4, 0, "forward"),
		// The source: an interface of ours, on the link it came by.
		asm.LoadMapPtr(R1, m.FD()).WithSymbol("check"),
		asm.Mov.Reg(R2, FP),
		asm.Add.Imm(R2, tuple),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(R0, 0, "pass"),
		asm.LoadMem(R4, R0, valIfindex, asm.Word),
		asm.LoadMem(R5, R6, skbIfindex, asm.Word),
		asm.JNE.Reg(R4, R5, "pass"),
		asm.LoadMem(R7, R0, valSubnet, asm.Word),
		// The destination: an interface of the same subnet (else NACLs
		// apply); R7 keeps its map value.
		asm.LoadMapPtr(R1, m.FD()),
		asm.Mov.Reg(R2, FP),
		asm.Add.Imm(R2, tuple+4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(R0, 0, "pass"),
		asm.LoadMem(R4, R0, valSubnet, asm.Word),
		asm.JNE.Reg(R4, R7, "pass"),
		asm.Mov.Reg(R7, R0),
		// The router's conntrack entry.
		zero64(opts),
		zero64(opts+8),
		asm.StoreImm(FP, opts, -1, asm.Word),  // netns_id BPF_F_CURRENT_NETNS
		asm.StoreImm(FP, opts+8, 6, asm.Byte), // l4proto TCP
		asm.Mov.Reg(R1, R6),
		asm.Mov.Reg(R2, FP),
		asm.Add.Imm(R2, tuple),
		asm.Mov.Imm(R3, 12),
		asm.Mov.Reg(R4, FP),
		asm.Add.Imm(R4, opts),
		asm.Mov.Imm(R5, 16),
		kfuncCall(k.lookup),
		asm.JEq.Imm(R0, 0, "pass"),
		asm.Mov.Reg(R8, R0),
		asm.Mov.Imm(R9, 0),
		asm.LoadMem(R4, R8, ctStatusOff, asm.DWord),
		asm.And.Imm(R4, ipsSeenReply|ipsConfirmed|ipsSrcNAT|ipsDstNAT|ipsDying),
		asm.JNE.Imm(R4, ipsSeenReply|ipsConfirmed, "release"),
		asm.LoadMem(R4, R8, ctStateOff, asm.Byte),
		asm.JNE.Imm(R4, tcpConntrackEstablished, "release"),
		asm.Mov.Imm(R9, 1),
	)
	insns = append(insns, refreshTimeout(k)...)
	insns = append(insns,
		asm.Mov.Reg(R1, R8).WithSymbol("release"),
		kfuncCall(k.release),
		asm.JEq.Imm(R9, 0, "pass"),
		// Checked: cache the flow, and forward from the stack's copy.
		asm.FnJiffies64.Call(),
		asm.Add.Imm(R0, flowTTLJiffies),
		asm.StoreMem(FP, flow+flowExpiry, R0, asm.DWord),
		asm.LoadMem(R4, R6, skbIfindex, asm.Word),
		asm.StoreMem(FP, flow+flowIngress, R4, asm.Word),
		asm.StoreImm(FP, flow+flowPad, 0, asm.Word),
	)
	insns = append(insns, copy4(FP, R7, flow+flowIfindex, valIfindex)...)
	for _, o := range []int16{0, 2, 4} {
		insns = append(insns, copy2(FP, R7, flow+flowSrcMAC+o, valSrcMAC+o)...)
		insns = append(insns, copy2(FP, R7, flow+flowDstMAC+o, valDstMAC+o)...)
	}
	insns = append(insns,
		asm.LoadMapPtr(R1, flows.FD()),
		asm.Mov.Reg(R2, FP),
		asm.Add.Imm(R2, tuple),
		asm.Mov.Reg(R3, FP),
		asm.Add.Imm(R3, flow),
		asm.Mov.Imm(R4, 0), // BPF_ANY
		asm.FnMapUpdateElem.Call(),
		asm.Mov.Reg(R7, FP),
		asm.Add.Imm(R7, flow),
	)
	// Forward, R7 pointing to a flowValue (in the cache or on the stack).
	fwd := append(asm.Instructions{}, loadPacket...)
	fwd[0] = fwd[0].WithSymbol("forward")
	insns = append(insns, fwd...)
	// Ethernet addresses: to the interface's eth0, from the router's end
	// of its veth pair.
	for _, o := range []int16{0, 2, 4} {
		insns = append(insns, copy2(R2, R7, o, flowDstMAC+o)...)
		insns = append(insns, copy2(R2, R7, 6+o, flowSrcMAC+o)...)
	}
	insns = append(insns,
		// ip_decrease_ttl: TTL - 1, checksum + htons(0x0100).
		asm.LoadMem(R4, R2, ipTTL, asm.Byte),
		asm.Sub.Imm(R4, 1),
		asm.StoreMem(R2, ipTTL, R4, asm.Byte),
		asm.LoadMem(R4, R2, ipCsum, asm.Half),
		asm.Add.Imm(R4, 1),
		asm.JLT.Imm(R4, 0xffff, "csum"),
		asm.Add.Imm(R4, 1),
		asm.StoreMem(R2, ipCsum, R4, asm.Half).WithSymbol("csum"),
		asm.LoadMem(R1, R7, flowIfindex, asm.Word),
		asm.Mov.Imm(R2, 0),
		asm.FnRedirectPeer.Call(),
		asm.Return(),
		// SYN, FIN or RST: the flow leaves the cache both ways, so the
		// rest of its teardown (or a new connection on its ports) is
		// checked against conntrack packet by packet; then the slow path.
		zero64(rtuple).WithSymbol("teardown"),
		zero64(rtuple+8),
	)
	insns = append(insns, copy4(FP, FP, rtuple, tuple+4)...)
	insns = append(insns, copy4(FP, FP, rtuple+4, tuple)...)
	insns = append(insns, copy2(FP, FP, rtuple+8, tuple+10)...)
	insns = append(insns, copy2(FP, FP, rtuple+10, tuple+8)...)
	insns = append(insns,
		asm.LoadMapPtr(R1, flows.FD()),
		asm.Mov.Reg(R2, FP),
		asm.Add.Imm(R2, tuple),
		asm.FnMapDeleteElem.Call(),
		asm.LoadMapPtr(R1, flows.FD()),
		asm.Mov.Reg(R2, FP),
		asm.Add.Imm(R2, rtuple),
		asm.FnMapDeleteElem.Call(),
		asm.Mov.Imm(R0, -1).WithSymbol("pass"), // TCX_NEXT
		asm.Return(),
	)
	return insns
}

// refreshTimeout gives the entry in R8 the timeout the slow path gives an
// established one, when less than half of it is left. The refresh is needed:
// the router's conntrack sees only the fast path's setup and teardown, so
// without it an entry would expire 5 days after its last slow-path packet
// however busy its connection, and the next packet, judged as new without a
// SYN, would be dropped. Refreshing every packet (bpf_ct_change_timeout, a
// write to the entry's cache line from both directions' CPUs) costs 17–62
// ns a packet (BENCH.md); reading the timeout and the clock costs less.
// nf_conn.timeout is the expiry in jiffies (nfct_time_stamp, 32 bits) once
// the entry is confirmed, which the program has checked.
func refreshTimeout(k kfuncIDs) asm.Instructions {
	return asm.Instructions{
		asm.FnJiffies64.Call(),
		asm.LoadMem(asm.R4, asm.R8, ctTimeoutOff, asm.Word),
		asm.Sub.Reg32(asm.R4, asm.R0), // jiffies left, as nf_ct_expires computes it
		asm.JSGE.Imm32(asm.R4, ctRefreshBelow, "release"),
		asm.Mov.Reg(asm.R1, asm.R8),
		asm.Mov.Imm32(asm.R2, ctEstablishedTimeoutMs),
		kfuncCall(k.timeout),
	}
}

// flowTTLJiffies is fastPathFlowTTL in the kernel's jiffies, rounded up,
// set by loadKfuncs.
var flowTTLJiffies int32

// ctRefreshBelow is half of ctEstablishedTimeoutMs in jiffies, set by
// loadKfuncs from the kernel's tick (the resolution of the coarse clocks is
// one jiffy). If that cannot be read, 100 Hz, the lowest tick Linux has:
// the entry is then refreshed later (at 1000 Hz, with 6 of its 120 hours
// left), still long before it expires.
var ctRefreshBelow int32

func kernelHZ() int64 {
	var ts unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_MONOTONIC_COARSE, &ts); err != nil || ts.Sec != 0 || ts.Nsec <= 0 {
		return 100
	}
	hz := (1e9 + ts.Nsec/2) / ts.Nsec
	if hz < 100 || hz > 2000 {
		return 100
	}
	return hz
}

// fastPath is one router's program, map and flow cache.
type fastPath struct {
	prog  *ebpf.Program
	m     *ebpf.Map
	flows *ebpf.Map
}

func (f *fastPath) Close() {
	if f.prog != nil {
		f.prog.Close()
	}
	if f.m != nil {
		f.m.Close()
	}
	if f.flows != nil {
		f.flows.Close()
	}
}

// purgeFlows empties f's flow cache, so that every flow is checked against
// the map (and conntrack) again.
func (f *fastPath) purgeFlows() error {
	var keys [][12]byte
	var k [12]byte
	it := f.flows.Iterate()
	for it.Next(&k, new(flowValue)) {
		keys = append(keys, k)
	}
	errs := []error{it.Err()}
	for _, k := range keys {
		if err := f.flows.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fast path flow cache: %w", err)
	}
	return nil
}

// newFastPath loads a router's map and program.
func newFastPath() (*fastPath, error) {
	k, err := loadKfuncs()
	if err != nil {
		return nil, err
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: fastPathMapName, Type: ebpf.Hash, KeySize: 4, ValueSize: 20,
		MaxEntries: fastPathMaxLinks, Flags: 1, // BPF_F_NO_PREALLOC
	})
	if err != nil {
		return nil, fmt.Errorf("fast path map: %w", err)
	}
	flows, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: fastPathFlowsName, Type: ebpf.LRUHash, KeySize: 12, ValueSize: 32, MaxEntries: fastPathMaxFlows,
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("fast path flow cache: %w", err)
	}
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Name: fastPathProgName, Type: ebpf.SchedCLS, AttachType: ebpf.AttachTCXIngress,
		License: "GPL", Instructions: fastPathInstructions(m, flows, k),
	}, ebpf.ProgramOptions{})
	if err != nil {
		m.Close()
		flows.Close()
		return nil, fmt.Errorf("fast path program: %w", err)
	}
	return &fastPath{prog: prog, m: m, flows: flows}, nil
}

// fpLink is a router-side link of an interface, as the fast path knows it.
type fpLink struct {
	name    string     // in the router namespace
	ifaceNS string     // the interface's namespace (its end is InterfaceLink)
	subnet  netip.Addr // the subnet's gateway address, on the link
	addr    netip.Addr // the interface's primary private address
}

// fastPathLinks returns, per router namespace of plan, the router-side
// links of its interfaces.
func fastPathLinks(plan *Plan) map[string][]fpLink {
	// Per router, by router-side link name: the link's one address (the
	// subnet's gateway) and the interface address of its /32 device route.
	type linkAddrs struct{ subnet, addr netip.Addr }
	routers := map[string]map[string]*linkAddrs{}
	for i := range plan.Namespaces {
		ns := &plan.Namespaces[i]
		if ns.Role != RoleRouter {
			continue
		}
		byName := map[string]*linkAddrs{}
		at := func(name string) *linkAddrs {
			if byName[name] == nil {
				byName[name] = &linkAddrs{}
			}
			return byName[name]
		}
		for _, rl := range ns.Links {
			if len(rl.Addrs) == 1 {
				at(rl.Name).subnet = rl.Addrs[0].Addr()
			}
		}
		for _, rt := range ns.Routes {
			if rt.Dst.Bits() == 32 && !rt.Via.IsValid() {
				at(rt.Dev).addr = rt.Dst.Addr()
			}
		}
		routers[ns.Name] = byName
	}
	out := map[string][]fpLink{}
	for _, v := range plan.Veths {
		byName, ok := routers[v.A.Namespace]
		if !ok || v.B.Name != InterfaceLink || byName[v.A.Name] == nil {
			continue
		}
		a := byName[v.A.Name]
		if a.subnet.Is4() && a.addr.Is4() {
			out[v.A.Namespace] = append(out[v.A.Namespace], fpLink{name: v.A.Name, ifaceNS: v.B.Namespace, subnet: a.subnet, addr: a.addr})
		}
	}
	return out
}

// fastPathEntries returns the links to attach to (ifindex in the router
// namespace) and the map entries for links: routerLink finds a link in the
// router namespace, ifaceLink the InterfaceLink of an interface namespace
// (nil, nil if that namespace is not open). An interface whose eth0 or
// addresses are not known gets no entry (its packets take the slow path);
// nor does an address two links claim.
func fastPathEntries(links []fpLink, routerLink func(string) (netlink.Link, error), ifaceLink func(string) (netlink.Link, error)) ([]int, map[[4]byte]fastPathValue, []error) {
	var errs []error
	var attach []int
	want := map[[4]byte]fastPathValue{}
	claimed := map[[4]byte]int{}
	for _, l := range links {
		rl, err := routerLink(l.name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
			continue
		}
		attach = append(attach, rl.Attrs().Index)
		key := l.addr.As4()
		if claimed[key]++; claimed[key] > 1 {
			delete(want, key)
			continue
		}
		il, err := ifaceLink(l.ifaceNS)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", l.ifaceNS, InterfaceLink, err))
			continue
		}
		if il == nil || len(il.Attrs().HardwareAddr) != 6 || len(rl.Attrs().HardwareAddr) != 6 {
			continue
		}
		v := fastPathValue{Ifindex: uint32(rl.Attrs().Index), Subnet: l.subnet.As4()}
		copy(v.SrcMAC[:], rl.Attrs().HardwareAddr)
		copy(v.DstMAC[:], il.Attrs().HardwareAddr)
		want[key] = v
	}
	slices.Sort(attach)
	return attach, want, errs
}

// attachFastPath, in the namespace at nsPath, puts links into f's map and
// attaches f's program to their TCX ingress (unless it already is), for
// experiments (TestRedisFastPath); Apply uses ensureFastPath.
func attachFastPath(nsPath string, f *fastPath, links []fpLink) error {
	ifaceLink := func(ns string) (netlink.Link, error) {
		nsh, err := netns.GetFromPath(filepath.Join(netnsDir, ns))
		if err != nil {
			return nil, err
		}
		defer nsh.Close()
		h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
		if err != nil {
			return nil, err
		}
		defer h.Close()
		return h.LinkByName(InterfaceLink)
	}
	return inNamespace(nsPath, func() error {
		errs := []error{liberalTracking()}
		attach, want, lerrs := fastPathEntries(links, netlink.LinkByName, ifaceLink)
		errs = append(errs, lerrs...)
		for k, v := range want {
			if err := f.m.Put(k, v); err != nil {
				errs = append(errs, fmt.Errorf("fast path map: %w", err))
			}
		}
		for _, idx := range attach {
			if err := link.RawAttachProgram(link.RawAttachProgramOptions{Target: idx, Program: f.prog, Attach: ebpf.AttachTCXIngress}); err != nil && !errors.Is(err, unix.EEXIST) {
				errs = append(errs, fmt.Errorf("link %d: attach fast path: %w", idx, err))
			}
		}
		return errors.Join(errs...)
	})
}

// detachFastPath detaches f's program from links in the namespace at nsPath.
func detachFastPath(nsPath string, f *fastPath, links []fpLink) error {
	return eachLink(nsPath, links, func(name string, idx int) error {
		if err := link.RawDetachProgram(link.RawDetachProgramOptions{Target: idx, Program: f.prog, Attach: ebpf.AttachTCXIngress}); err != nil {
			return fmt.Errorf("%s: detach fast path: %w", name, err)
		}
		return nil
	})
}

// eachLink calls fn with the name and index of each of links in the
// namespace at nsPath, going on after an error; it returns them all.
func eachLink(nsPath string, links []fpLink, fn func(name string, idx int) error) error {
	return inNamespace(nsPath, func() error {
		var errs []error
		for _, l := range links {
			nl, err := netlink.LinkByName(l.name)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
				continue
			}
			errs = append(errs, fn(l.name, nl.Attrs().Index))
		}
		return errors.Join(errs...)
	})
}

// routerFastPath is the fast path of one router namespace as this Plane
// made it.
type routerFastPath struct {
	inode    uint64 // of the namespace
	fp       *fastPath
	id       ebpf.ProgramID            // fp.prog's
	attached map[int]bool              // links (ifindex) it is attached to
	entries  map[[4]byte]fastPathValue // as in the map
	links    map[string]netlink.Link   // as the last call read them (ensureFastPath)
}

// closeFastPath forgets the fast path of namespace ns (with mu held): the
// program stays attached in the kernel until its links go.
func (p *Plane) closeFastPath(ns string) {
	if r := p.fastPaths[ns]; r != nil {
		r.fp.Close()
		delete(p.fastPaths, ns)
	}
}

// ensureFastPaths converges the fast path of every router of plan whose
// ruleset is loaded and which this Apply walked.
func (p *Plane) ensureFastPaths(plan *Plan, open map[string]*nsHandle, ready map[string]bool, delta *topoDelta) []error {
	links := fastPathLinks(plan)
	var errs []error
	for _, ns := range plan.Namespaces {
		if ns.Role != RoleRouter {
			continue
		}
		h := open[ns.Name]
		if h == nil || !ready[ns.Name] || (delta != nil && !delta.changed[ns.Name]) {
			continue
		}
		var changed map[string]bool
		if delta != nil {
			changed = delta.changed
		}
		if err := p.ensureFastPath(h, links[ns.Name], changed); err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: fast path: %w", ns.Name, err))
		}
	}
	return errs
}

// ensureFastPath converges one router's fast path to links: the map holds
// exactly their entries and the program is attached to each. An Apply
// (changed nil) reads every link from the kernel, checks every attachment
// there, and replaces a program of ours that an earlier run left; an
// ApplyChange reads only the links of interfaces whose namespace changed
// (the others as the last call read them: their veth pairs stayed) and
// attaches only links new since the last call.
func (p *Plane) ensureFastPath(h *nsHandle, links []fpLink, changed map[string]bool) error {
	full := changed == nil
	r := p.fastPaths[h.name]
	if r != nil && r.inode != h.inode {
		p.closeFastPath(h.name)
		r = nil
	}
	if p.noFastPath || p.fastPathErr != nil {
		p.closeFastPath(h.name)
		if full && p.noFastPath {
			return removeFastPath(h.path, links)
		}
		return nil
	}
	// The links read, by router-side name and by interface namespace
	// (prefixed "ns:"), for the next ApplyChange.
	read := map[string]netlink.Link{}
	known := func(key, ns string) (netlink.Link, bool) {
		if full || changed[ns] || r == nil {
			return nil, false
		}
		l, ok := r.links[key]
		return l, ok
	}
	ifaceNS := make(map[string]string, len(links))
	for _, l := range links {
		ifaceNS[l.name] = l.ifaceNS
	}
	routerLink := func(name string) (netlink.Link, error) {
		l, ok := known(name, ifaceNS[name])
		if !ok {
			var err error
			if l, err = h.h.LinkByName(name); err != nil {
				return nil, err
			}
		}
		read[name] = l
		return l, nil
	}
	ifaceLink := func(ns string) (netlink.Link, error) {
		l, ok := known("ns:"+ns, ns)
		if !ok {
			ih := p.handles[ns]
			if ih == nil {
				return nil, nil
			}
			var err error
			if l, err = ih.h.LinkByName(InterfaceLink); err != nil {
				return nil, err
			}
		}
		read["ns:"+ns] = l // (not when its namespace was not open: read again)
		return l, nil
	}
	linked, want, lerrs := fastPathEntries(links, routerLink, ifaceLink)
	defer func() {
		if r := p.fastPaths[h.name]; r != nil {
			r.links = read
		}
	}()
	errs := lerrs
	if r != nil && !full && maps.Equal(r.entries, want) && len(linked) == len(r.attached) &&
		!slices.ContainsFunc(linked, func(idx int) bool { return !r.attached[idx] }) {
		return errors.Join(errs...)
	}
	if r == nil {
		fp, err := newFastPath()
		if err != nil {
			p.fastPathErr = err
			p.log.Warn("fast path unavailable: routers forward every packet through their IP stack and nftables", "err", err)
			return errors.Join(errs...)
		}
		info, err := fp.prog.Info()
		if err != nil {
			fp.Close()
			return errors.Join(append(errs, fmt.Errorf("program info: %w", err))...)
		}
		id, _ := info.ID()
		r = &routerFastPath{inode: h.inode, fp: fp, id: id, attached: map[int]bool{}, entries: map[[4]byte]fastPathValue{}}
		p.fastPaths[h.name] = r
	}
	// An entry removed or changed may be in cached flows: they go after
	// the map is changed.
	purge := false
	for k := range r.entries {
		if _, ok := want[k]; !ok {
			purge = true
			if err := r.fp.m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				errs = append(errs, fmt.Errorf("fast path map: delete %v: %w", netip.AddrFrom4(k), err))
				continue
			}
			delete(r.entries, k)
		}
	}
	for k, v := range want {
		old, had := r.entries[k]
		if had && old == v && !full {
			continue
		}
		purge = purge || had && old != v
		if err := r.fp.m.Put(k, v); err != nil {
			errs = append(errs, fmt.Errorf("fast path map: put %v: %w", netip.AddrFrom4(k), err))
			delete(r.entries, k)
			continue
		}
		r.entries[k] = v
	}
	if purge {
		if err := r.fp.purgeFlows(); err != nil {
			errs = append(errs, err)
		}
	}
	wanted := map[int]bool{}
	var attach []int
	for _, idx := range linked {
		wanted[idx] = true
		if !r.attached[idx] || full {
			attach = append(attach, idx)
		}
	}
	for idx := range r.attached {
		if !wanted[idx] {
			delete(r.attached, idx) // the link is gone, or no interface's any more
		}
	}
	if len(attach) == 0 {
		return errors.Join(errs...)
	}
	err := inNamespace(h.path, func() error {
		// Packets of fast-pathed connections do not update the router's
		// TCP window tracking; those that still take the slow path (FIN,
		// RST, any packet the program passes on) must not be found out of
		// window and dropped as invalid.
		if err := liberalTracking(); err != nil {
			return err
		}
		var errs []error
		for _, idx := range attach {
			if err := r.attach(idx); err != nil {
				errs = append(errs, fmt.Errorf("attach to link %d: %w", idx, err))
				continue
			}
			r.attached[idx] = true
		}
		return errors.Join(errs...)
	})
	if err != nil && unsupported(err) {
		// A kernel that verifies the program but has no TCX (before 6.6):
		// the slow path only, as for one that cannot load it.
		p.fastPathErr = err
		p.log.Warn("fast path unavailable: routers forward every packet through their IP stack and nftables", "err", err)
		p.closeFastPath(h.name)
		return errors.Join(errs...)
	}
	if err != nil {
		// Attach again on the next call.
		for _, idx := range attach {
			delete(r.attached, idx)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// unsupported reports whether err says the kernel lacks what the fast path
// needs (an attach type, a helper), rather than that something failed.
func unsupported(err error) bool {
	return errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP)
}

// liberalTracking makes the calling thread's namespace's TCP conntrack
// accept segments out of the window it tracked (see ensureFastPath).
func liberalTracking() error {
	return errors.Join(
		writeSysctl("net/netfilter/nf_conntrack_tcp_be_liberal", "1"),
		writeSysctl("net/netfilter/nf_conntrack_tcp_ignore_invalid_rst", "1"),
	)
}

// attach attaches r's program to TCX ingress of link idx (in the calling
// thread's namespace) unless it is there: a program of ours left by an
// earlier run is replaced in place.
func (r *routerFastPath) attach(idx int) error {
	res, err := link.QueryPrograms(link.QueryOptions{Target: idx, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	for _, ap := range res.Programs {
		if ap.ID == r.id {
			return nil
		}
	}
	var anchor link.Anchor
	for _, ap := range res.Programs {
		if old := openFastPathProgram(ap.ID); old != nil {
			// TCX takes the program to replace by fd, not by id.
			defer old.Close()
			anchor = link.ReplaceProgram(old)
			break
		}
	}
	return link.RawAttachProgram(link.RawAttachProgramOptions{Target: idx, Program: r.fp.prog, Attach: ebpf.AttachTCXIngress, Anchor: anchor})
}

// openFastPathProgram returns program id if it is a fast path's, else nil.
func openFastPathProgram(id ebpf.ProgramID) *ebpf.Program {
	prog, err := ebpf.NewProgramFromID(id)
	if err != nil {
		return nil
	}
	if info, err := prog.Info(); err == nil && info.Name == fastPathProgName {
		return prog
	}
	prog.Close()
	return nil
}

// isFastPathProgram reports whether program id is a fast path's.
func isFastPathProgram(id ebpf.ProgramID) bool {
	prog := openFastPathProgram(id)
	if prog != nil {
		prog.Close()
	}
	return prog != nil
}

// removeFastPath detaches every fast-path program from links (in the
// namespace at nsPath), for a Plane with the fast path turned off.
func removeFastPath(nsPath string, links []fpLink) error {
	return eachLink(nsPath, links, func(name string, idx int) error {
		res, err := link.QueryPrograms(link.QueryOptions{Target: idx, Attach: ebpf.AttachTCXIngress})
		if err != nil {
			return fmt.Errorf("%s: query: %w", name, err)
		}
		var errs []error
		for _, ap := range res.Programs {
			if prog := openFastPathProgram(ap.ID); prog != nil {
				if err := link.RawDetachProgram(link.RawDetachProgramOptions{Target: idx, Program: prog, Attach: ebpf.AttachTCXIngress}); err != nil {
					errs = append(errs, fmt.Errorf("%s: detach: %w", name, err))
				}
				prog.Close()
			}
		}
		return errors.Join(errs...)
	})
}

// copyMem copies size bytes from src+from to dst+to through R4.
func copyMem(dst, src asm.Register, to, from int16, size asm.Size) asm.Instructions {
	return asm.Instructions{asm.LoadMem(asm.R4, src, from, size), asm.StoreMem(dst, to, asm.R4, size)}
}
