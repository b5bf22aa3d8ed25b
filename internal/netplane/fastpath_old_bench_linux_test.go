package netplane

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// oldFastPathInstructions is the program before its flow cache (main at
// 8506da7), for the side-by-side rounds of TestRedisFastPath.
func oldFastPathInstructions(m *ebpf.Map, k kfuncIDs) asm.Instructions {
	const (
		// __sk_buff offsets
		skbIfindex = 40
		skbData    = 76
		skbDataEnd = 80
		// stack: the conntrack tuple at fp-16 (12 bytes: source and
		// destination address, which are also the map keys, then ports),
		// struct bpf_ct_opts at fp-32.
		tuple = -16
		opts  = -32
		// fastPathValue offsets
		valIfindex = 0
		valSubnet  = 4
		valSrcMAC  = 8
		valDstMAC  = 14
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
		zero64(tuple),
		zero64(tuple+8),
		zero64(opts),
		zero64(opts+8),
		asm.LoadMem(R4, R2, ipSrc, asm.Word),
		asm.StoreMem(FP, tuple, R4, asm.Word),
		asm.LoadMem(R4, R2, ipDst, asm.Word),
		asm.StoreMem(FP, tuple+4, R4, asm.Word),
		asm.LoadMem(R4, R2, tcpSrc, asm.Half),
		asm.StoreMem(FP, tuple+8, R4, asm.Half),
		asm.LoadMem(R4, R2, tcpDst, asm.Half),
		asm.StoreMem(FP, tuple+10, R4, asm.Half),
		// The source: an interface of ours, on the link it came by.
		asm.LoadMapPtr(R1, m.FD()),
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
	)
	insns = append(insns, loadPacket...)
	// Ethernet addresses: to the interface's eth0, from the router's end
	// of its veth pair.
	insns = append(insns, copyMACs(R2, R7, valDstMAC, valSrcMAC)...)
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
		asm.LoadMem(R1, R7, valIfindex, asm.Word),
		asm.Mov.Imm(R2, 0),
		asm.FnRedirectPeer.Call(),
		asm.Return(),
		asm.Mov.Imm(R0, -1).WithSymbol("pass"), // TCX_NEXT
		asm.Return(),
	)
	return insns
}
