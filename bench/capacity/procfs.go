package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// kbField returns a "Key: N kB" figure of a /proc file, in bytes; 0 when
// the file or the key is missing.
func kbField(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// meminfoFields are the /proc/meminfo lines the report compares.
// The first is MemAvailable; the kernel's own memory is Slab, Percpu,
// PageTables, KernelStack and VmallocUsed (SUnreclaim is part of Slab);
// the others are shown for the difference between MemAvailable's drop
// and the sum of the parts.
var meminfoFields = []string{"MemAvailable", "Slab", "SUnreclaim", "Percpu", "PageTables", "KernelStack", "VmallocUsed", "AnonPages", "Shmem", "Cached"}

// kernelField reports whether a meminfo field is summed as the kernel's
// own memory.
func kernelField(f string) bool {
	switch f {
	case "Slab", "Percpu", "PageTables", "KernelStack", "VmallocUsed":
		return true
	}
	return false
}

// meminfo reads meminfoFields, in bytes.
func meminfo() map[string]int64 {
	b, _ := os.ReadFile("/proc/meminfo")
	out := map[string]int64{}
	for l := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		out[k] = kb << 10
	}
	return out
}

// procMem is what smaps_rollup says of a set of processes, in bytes.
type procMem struct {
	procs             int
	rss, pss, pssAnon int64
	threads           int
}

// memOf sums smaps_rollup's Rss, Pss and Pss_Anon of pids, and their
// threads.
func memOf(pids []int) procMem {
	var m procMem
	for _, pid := range pids {
		p := fmt.Sprintf("/proc/%d/smaps_rollup", pid)
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		m.procs++
		for l := range strings.SplitSeq(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			switch k {
			case "Rss":
				m.rss += kb << 10
			case "Pss":
				m.pss += kb << 10
			case "Pss_Anon":
				m.pssAnon += kb << 10
			}
		}
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid)); err == nil {
			m.threads += len(ents)
		}
	}
	return m
}

// cpuTicks sums utime+stime (clock ticks) of pids; pids gone count 0.
func cpuTicks(pids []int) int64 {
	var t int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) {
			continue
		}
		f := strings.Fields(s[i+2:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64) // field 14
		st, _ := strconv.ParseInt(f[12], 10, 64)
		t += u + st
	}
	return t
}

// machineCPU returns the busy and total ticks of /proc/stat's cpu line
// (busy: everything but idle and iowait).
func machineCPU() (busy, total int64) {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total
}

// clockTick is USER_HZ, 100 on Linux/amd64.
const clockTick = 100

func ticksDur(t int64) time.Duration { return time.Duration(t) * time.Second / clockTick }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func kib(b int64) string { return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10)) }
