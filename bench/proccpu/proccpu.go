// Package proccpu reads the CPU time (user + system) that a tree of
// processes has used, from Linux's /proc, grouped by what each process
// is. Sampled before and after a load phase, it says where the CPU went
// per request: unlike throughput, CPU time per request hardly moves when
// other work shares the machine.
//
// # Non-goals
//
// It is Linux-only (elsewhere [Tree] returns an error), sees only live
// processes (CPU of a process that exits between two samples is lost),
// and reads nothing but /proc/<pid>/stat and /proc/<pid>/cmdline.
package proccpu

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which is 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// maxTicks bounds utime and stime so that their sum in clock ticks fits a
// time.Duration (about 1,460 years of CPU each: a corrupt line, not a process).
const maxTicks = uint64(math.MaxInt64/int64(clockTick)) / 2

// Stat is what this package uses of one /proc/<pid>/stat line.
type Stat struct {
	PID, PPID int
	// Comm is the executable name (at most 15 bytes).
	Comm string
	// CPU is utime + stime.
	CPU time.Duration
}

var errStat = errors.New("malformed /proc stat line")

// ParseStat parses the content of /proc/<pid>/stat. The comm field may
// contain spaces and parentheses, so it runs to the last ')'.
func ParseStat(line string) (Stat, error) {
	open, closing := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 1 || closing < open {
		return Stat{}, errStat
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil || pid <= 0 {
		return Stat{}, errStat
	}
	// Fields after comm, from field 3 (state): ppid is field 4, utime 14
	// and stime 15.
	f := strings.Fields(line[closing+1:])
	if len(f) < 13 {
		return Stat{}, errStat
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseUint(f[11], 10, 63)
	stime, err3 := strconv.ParseUint(f[12], 10, 63)
	if err1 != nil || err2 != nil || err3 != nil || ppid < 0 || utime > maxTicks || stime > maxTicks {
		return Stat{}, errStat
	}
	return Stat{PID: pid, PPID: ppid, Comm: line[open+1 : closing], CPU: time.Duration(utime+stime) * clockTick}, nil
}

// Sample maps a group name to the CPU time its processes have used.
type Sample map[string]time.Duration

// Sub returns s − before, group by group.
func (s Sample) Sub(before Sample) Sample {
	out := Sample{}
	for g, d := range s {
		out[g] = d - before[g]
	}
	return out
}

// Add returns s + other, group by group.
func (s Sample) Add(other Sample) Sample {
	out := Sample{}
	for g, d := range s {
		out[g] = d
	}
	for g, d := range other {
		out[g] += d
	}
	return out
}

// Classify names the group of a process from its stat and its command
// line (arguments separated by NUL bytes); "" leaves it out.
type Classify func(st Stat, cmdline string) string

// Tree samples root and all its descendants, grouped by classify.
func Tree(root int, classify Classify) (Sample, error) {
	stats, err := all()
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for pid, st := range stats {
		children[st.PPID] = append(children[st.PPID], pid)
	}
	out := Sample{}
	for unvisited := []int{root}; len(unvisited) > 0; {
		pid := unvisited[len(unvisited)-1]
		unvisited = append(unvisited[:len(unvisited)-1], children[pid]...)
		st, ok := stats[pid]
		if !ok {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if g := classify(st, string(cmd)); g != "" {
			out[g] += st.CPU
		}
	}
	return out, nil
}

// Self samples this process alone into group.
func Self(group string) (Sample, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return nil, err
	}
	st, err := ParseStat(string(b))
	if err != nil {
		return nil, err
	}
	return Sample{group: st.CPU}, nil
}

// all reads every process's stat line.
func all() (map[int]Stat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("proccpu: %w", err)
	}
	out := map[int]Stat{}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		if st, err := ParseStat(string(b)); err == nil {
			out[st.PID] = st
		}
	}
	return out, nil
}
