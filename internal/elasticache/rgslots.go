package elasticache

import (
	"fmt"
	"strconv"
	"strings"
)

// Hash slots of cluster-mode groups, pure: the 16384 slots of Redis
// Cluster, their textual ranges as ElastiCache spells them ("0-5461",
// "0-100,200-300"), AWS's even split of the key space over the shards,
// and the checks of a NodeGroupConfiguration's Slots (no overlap, no gap,
// nothing past 16383).

// SlotCount is the number of hash slots of a Redis Cluster.
const SlotCount = 16384

// SlotRange is an inclusive range of hash slots.
type SlotRange struct{ From, To int }

// ParseSlots parses a Slots value: comma-separated ranges "a-b" or single
// slots "a".
func ParseSlots(s string) ([]SlotRange, error) {
	var out []SlotRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("empty slot range in %q", s)
		}
		a, b, isRange := strings.Cut(part, "-")
		from, err := strconv.Atoi(a)
		if err != nil {
			return nil, fmt.Errorf("bad slot %q in %q", a, s)
		}
		to := from
		if isRange {
			if to, err = strconv.Atoi(b); err != nil {
				return nil, fmt.Errorf("bad slot %q in %q", b, s)
			}
		}
		if from < 0 || to >= SlotCount || from > to {
			return nil, fmt.Errorf("slot range %q is outside 0-%d or reversed", part, SlotCount-1)
		}
		out = append(out, SlotRange{from, to})
	}
	return out, nil
}

// FormatSlots renders ranges as ParseSlots reads them.
func FormatSlots(rs []SlotRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.Itoa(r.From) + "-" + strconv.Itoa(r.To)
	}
	return strings.Join(parts, ",")
}

// evenSlots splits the key space over n shards as ElastiCache does:
// contiguous ranges in shard order, the first shards one slot larger when
// the division leaves a remainder (3 shards: 0-5461, 5462-10922,
// 10923-16383).
func evenSlots(n int) []string {
	out := make([]string, n)
	from := 0
	for i := range n {
		size := SlotCount / n
		if i < SlotCount%n {
			size++
		}
		out[i] = FormatSlots([]SlotRange{{from, from + size - 1}})
		from += size
	}
	return out
}

// checkSlotCover checks that the shards' Slots cover every slot exactly
// once, naming the first slot covered twice or not at all.
func checkSlotCover(slots []string) error {
	owner := make([]int, SlotCount)
	for i, s := range slots {
		rs, err := ParseSlots(s)
		if err != nil {
			return invalid("Invalid slot range %q for node group %d: %v.", s, i+1, err)
		}
		for _, r := range rs {
			for k := r.From; k <= r.To; k++ {
				if owner[k] != 0 {
					return invalid("Slot %d is assigned to more than one node group: the slot ranges of the node groups overlap.", k)
				}
				owner[k] = i + 1
			}
		}
	}
	for k, o := range owner {
		if o == 0 {
			return invalid("Slot %d is not assigned to any node group: the slot ranges must cover 0-%d.", k, SlotCount-1)
		}
	}
	return nil
}

// KeySlot is the hash slot of a key, as Redis Cluster computes it:
// CRC16 (XMODEM) of the key, or of its hash tag (the part between the
// first { and the first } after it, when not empty), modulo 16384.
func KeySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % SlotCount
}

// SlotOwners maps every hash slot to the index of the node group owning
// it, from the node groups' Slots; -1 for a slot none owns.
func SlotOwners(slots []string) ([]int, error) {
	owner := make([]int, SlotCount)
	for k := range owner {
		owner[k] = -1
	}
	for i, s := range slots {
		rs, err := ParseSlots(s)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			for k := r.From; k <= r.To; k++ {
				owner[k] = i
			}
		}
	}
	return owner, nil
}
