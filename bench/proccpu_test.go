package bench

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU time of processes, read from /proc (Linux; elsewhere every read
// fails and the figures that need it are left out). The serving
// benchmark divides the CPU its server and PostgreSQL spent during a run
// by the requests answered: on a machine shared with other jobs that
// figure moves far less than throughput does.

// clockTick is USER_HZ, the unit of the CPU times in /proc/PID/stat
// (100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// procStat returns fields 4 onward of /proc/pid/stat (ppid first), the
// fields after the command name, which may hold spaces.
func procStat(pid int) ([]string, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil, false
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 15 { // up to cstime
		return nil, false
	}
	return f[1:], true
}

// ticks sums the given fields of a procStat answer (utime is 10, stime
// 11, cutime 12, cstime 13 in procStat's numbering).
func ticks(f []string, fields ...int) int64 {
	var n int64
	for _, i := range fields {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		n += v
	}
	return n
}

// processCPU is the CPU time pid has used so far.
func processCPU(pid int) (time.Duration, bool) {
	f, ok := procStat(pid)
	if !ok {
		return 0, false
	}
	return time.Duration(ticks(f, 10, 11)) * clockTick, true
}

// clusterCPU is the CPU time a PostgreSQL cluster has used so far: its
// postmaster's, its live children's (the backends and background
// processes) and that of the children it has reaped.
func clusterCPU(postmaster int) (time.Duration, bool) {
	f, ok := procStat(postmaster)
	if !ok {
		return 0, false
	}
	n := ticks(f, 10, 11, 12, 13)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	parent := strconv.Itoa(postmaster)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if c, ok := procStat(pid); ok && c[0] == parent {
			n += ticks(c, 10, 11)
		}
	}
	return time.Duration(n) * clockTick, true
}

// postmasterPID returns the PID of the postmaster of the cluster at url,
// when it runs on this machine (0 otherwise): the parent of a backend.
func postmasterPID(url string) int {
	db, err := sql.Open("postgres", url)
	if err != nil {
		return 0
	}
	defer db.Close()
	var backend int
	if err := db.QueryRowContext(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0
	}
	f, ok := procStat(backend)
	if !ok {
		return 0
	}
	pid, _ := strconv.Atoi(f[0])
	return pid
}
