package netplane

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// oldFastPathValue is oldFastPathInstructions' map value, keyed by
// router-side ifindex: the link's subnet tag and its interface's address.
type oldFastPathValue struct {
	Subnet [4]byte
	Addr   [4]byte
}

// newOldFastPath loads oldFastPathInstructions with its map.
func newOldFastPath() (*fastPath, error) {
	k, err := loadKfuncs()
	if err != nil {
		return nil, err
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "cachalot_fp0", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	if err != nil {
		return nil, err
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "cachalot_fp0", Type: ebpf.SchedCLS, AttachType: ebpf.AttachTCXIngress,
		License: "GPL", Instructions: oldFastPathInstructions(m, k),
	})
	if err != nil {
		m.Close()
		return nil, err
	}
	return &fastPath{prog: prog, m: m}, nil
}

// attachOldFastPath is attachFastPath for newOldFastPath's program.
func attachOldFastPath(nsPath string, f *fastPath, links []fpLink) error {
	return inNamespace(nsPath, func() error {
		errs := []error{liberalTracking()}
		for _, l := range links {
			nl, err := netlink.LinkByName(l.name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			idx := nl.Attrs().Index
			if err := f.m.Put(uint32(idx), oldFastPathValue{Subnet: l.subnet.As4(), Addr: l.addr.As4()}); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := link.RawAttachProgram(link.RawAttachProgramOptions{Target: idx, Program: f.prog, Attach: ebpf.AttachTCXIngress}); err != nil && !errors.Is(err, unix.EEXIST) {
				errs = append(errs, fmt.Errorf("%s: attach: %w", l.name, err))
			}
		}
		return errors.Join(errs...)
	})
}

// oldFastPathInstructions is the fast path as first merged (8b7ad30):
// bpf_fib_lookup for the egress link and the Ethernet addresses, a map
// keyed by router-side ifindex (oldFastPathValue), and the conntrack
// timeout refreshed on every packet. Kept for TestRedisFastPath, to measure
// the two side by side.
func oldFastPathInstructions(m *ebpf.Map, k kfuncIDs) asm.Instructions {
	const (
		// __sk_buff offsets
		skbIfindex = 40
		skbData    = 76
		skbDataEnd = 80
		// stack: struct bpf_fib_lookup at fp-64, the conntrack tuple at
		// fp-80 (12 bytes), struct bpf_ct_opts at fp-96, the map key at fp-104.
		fib   = -64
		tuple = -80
		opts  = -96
		key   = -104
		// packet offsets (Ethernet, IPv4 without options, TCP)
		ipVHL   = 14
		ipTOS   = 15
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
		asm.LoadMem(R4, R2, tcpFlag, asm.Byte),
		asm.And.Imm(R4, 0x07), // FIN | SYN | RST
		asm.JNE.Imm(R4, 0, "pass"),
	)
	for off := int16(fib); off < 0; off += 8 {
		insns = append(insns, zero64(off))
	}
	insns = append(insns,
		zero64(tuple),
		zero64(tuple+8),
		zero64(opts),
		zero64(opts+8),
		asm.StoreImm(FP, fib, 2, asm.Byte),   // family AF_INET
		asm.StoreImm(FP, fib+1, 6, asm.Byte), // l4_protocol TCP
		asm.LoadMem(R4, R2, tcpSrc, asm.Half),
		asm.StoreMem(FP, fib+2, R4, asm.Half),
		asm.StoreMem(FP, tuple+8, R4, asm.Half),
		asm.LoadMem(R4, R2, tcpDst, asm.Half),
		asm.StoreMem(FP, fib+4, R4, asm.Half),
		asm.StoreMem(FP, tuple+10, R4, asm.Half),
		asm.LoadMem(R4, R2, ipTOS, asm.Byte),
		asm.StoreMem(FP, fib+12, R4, asm.Byte),
		asm.LoadMem(R4, R2, ipSrc, asm.Word),
		asm.StoreMem(FP, fib+16, R4, asm.Word),
		asm.StoreMem(FP, tuple, R4, asm.Word),
		asm.LoadMem(R4, R2, ipDst, asm.Word),
		asm.StoreMem(FP, fib+32, R4, asm.Word),
		asm.StoreMem(FP, tuple+4, R4, asm.Word),
		asm.LoadMem(R4, R6, skbIfindex, asm.Word),
		asm.StoreMem(FP, fib+8, R4, asm.Word),
		asm.StoreMem(FP, key, R4, asm.Word),
		// The link it came by: an interface of ours, its own address.
		asm.LoadMapPtr(R1, m.FD()),
		asm.Mov.Reg(R2, FP),
		asm.Add.Imm(R2, key),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(R0, 0, "pass"),
		asm.LoadMem(R7, R0, 0, asm.Word), // subnet
		asm.LoadMem(R4, R0, 4, asm.Word),
		asm.LoadMem(R5, FP, tuple, asm.Word),
		asm.JNE.Reg(R4, R5, "pass"),
		// Where the router would send it.
		asm.Mov.Reg(R1, R6),
		asm.Mov.Reg(R2, FP),
		asm.Add.Imm(R2, fib),
		asm.Mov.Imm(R3, 64),
		asm.Mov.Imm(R4, 0),
		asm.FnFibLookup.Call(),
		asm.JNE.Imm(R0, 0, "pass"), // BPF_FIB_LKUP_RET_SUCCESS
		asm.LoadMem(R8, FP, fib+8, asm.Word),
		asm.StoreMem(FP, key, R8, asm.Word),
		asm.LoadMapPtr(R1, m.FD()),
		asm.Mov.Reg(R2, FP),
		asm.Add.Imm(R2, key),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(R0, 0, "pass"),
		asm.LoadMem(R4, R0, 0, asm.Word),
		asm.JNE.Reg(R4, R7, "pass"), // another subnet: NACLs apply
		asm.LoadMem(R4, R0, 4, asm.Word),
		asm.LoadMem(R5, FP, tuple+4, asm.Word),
		asm.JNE.Reg(R4, R5, "pass"),
		// The router's conntrack entry.
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
		asm.Mov.Reg(R7, R0),
		asm.Mov.Imm(R9, 0),
		asm.LoadMem(R4, R7, ctStatusOff, asm.DWord),
		asm.And.Imm(R4, ipsSeenReply|ipsConfirmed|ipsSrcNAT|ipsDstNAT|ipsDying),
		asm.JNE.Imm(R4, ipsSeenReply|ipsConfirmed, "release"),
		asm.LoadMem(R4, R7, ctStateOff, asm.Byte),
		asm.JNE.Imm(R4, tcpConntrackEstablished, "release"),
		asm.Mov.Imm(R9, 1),
		asm.Mov.Reg(R1, R7),
		asm.Mov.Imm32(R2, ctEstablishedTimeoutMs),
		kfuncCall(k.timeout),
		asm.Mov.Reg(R1, R7).WithSymbol("release"),
		kfuncCall(k.release),
		asm.JEq.Imm(R9, 0, "pass"),
	)
	insns = append(insns, loadPacket...)
	insns = append(insns,
		// Ethernet addresses from the FIB (smac at fib+52, dmac at fib+58).
		asm.LoadMem(R4, FP, fib+58, asm.Half),
		asm.StoreMem(R2, 0, R4, asm.Half),
		asm.LoadMem(R4, FP, fib+60, asm.Half),
		asm.StoreMem(R2, 2, R4, asm.Half),
		asm.LoadMem(R4, FP, fib+62, asm.Half),
		asm.StoreMem(R2, 4, R4, asm.Half),
		asm.LoadMem(R4, FP, fib+52, asm.Half),
		asm.StoreMem(R2, 6, R4, asm.Half),
		asm.LoadMem(R4, FP, fib+54, asm.Half),
		asm.StoreMem(R2, 8, R4, asm.Half),
		asm.LoadMem(R4, FP, fib+56, asm.Half),
		asm.StoreMem(R2, 10, R4, asm.Half),
		// ip_decrease_ttl: TTL - 1, checksum + htons(0x0100).
		asm.LoadMem(R4, R2, ipTTL, asm.Byte),
		asm.Sub.Imm(R4, 1),
		asm.StoreMem(R2, ipTTL, R4, asm.Byte),
		asm.LoadMem(R4, R2, ipCsum, asm.Half),
		asm.Add.Imm(R4, 1),
		asm.JLT.Imm(R4, 0xffff, "csum"),
		asm.Add.Imm(R4, 1),
		asm.StoreMem(R2, ipCsum, R4, asm.Half).WithSymbol("csum"),
		asm.Mov.Reg(R1, R8),
		asm.Mov.Imm(R2, 0),
		asm.FnRedirectPeer.Call(),
		asm.Return(),
		asm.Mov.Imm(R0, -1).WithSymbol("pass"), // TCX_NEXT
		asm.Return(),
	)
	return insns
}
