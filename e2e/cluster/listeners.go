//go:build e2e

package cluster

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Listener is a listening TCP socket held by a process.
type Listener struct {
	Pid     int
	Command string
	Addr    net.TCPAddr
}

func (l Listener) String() string {
	return fmt.Sprintf("%s (pid %d) listens on %s", l.Command, l.Pid, l.Addr.String())
}

// ListenersOf lists the TCP sockets in LISTEN state held by the given
// processes or any process in their process groups.
func ListenersOf(pids ...int) ([]Listener, error) {
	groups := map[int]bool{}
	for _, p := range pids {
		groups[p] = true
	}
	// Every process in one of the groups, plus the pids themselves.
	members := map[int]bool{}
	for _, p := range pids {
		members[p] = true
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, statPath := range procs {
		b, err := os.ReadFile(statPath)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 {
			continue
		}
		pgrp, _ := strconv.Atoi(f[2])
		if groups[pgrp] {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(statPath)))
			members[pid] = true
		}
	}
	inodes := map[string]int{} // socket inode -> pid
	for pid := range members {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if err == nil && strings.HasPrefix(link, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = pid
			}
		}
	}
	var out []Listener
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		ls, err := listeningSockets(table)
		if err != nil {
			return nil, err
		}
		for inode, addr := range ls {
			pid, ok := inodes[inode]
			if !ok {
				continue
			}
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			out = append(out, Listener{Pid: pid, Command: strings.TrimSpace(string(comm)), Addr: addr})
		}
	}
	return out, nil
}

// NonLoopback keeps the listeners bound to anything but loopback.
func NonLoopback(ls []Listener) []Listener {
	var out []Listener
	for _, l := range ls {
		if !l.Addr.IP.IsLoopback() {
			out = append(out, l)
		}
	}
	return out
}

// listeningSockets parses /proc/net/tcp{,6}: inode -> local address of each
// socket in state 0A (LISTEN).
func listeningSockets(path string) (map[string]net.TCPAddr, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	out := map[string]net.TCPAddr{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		host, port, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		ip, err := procNetIP(host)
		if err != nil {
			continue
		}
		p, _ := strconv.ParseUint(port, 16, 16)
		out[fields[9]] = net.TCPAddr{IP: ip, Port: int(p)}
	}
	return out, sc.Err()
}

// procNetIP decodes the kernel's hex address: 32-bit words in host (little
// endian) byte order.
func procNetIP(h string) (net.IP, error) {
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, err
	}
	if len(b) != 4 && len(b) != 16 {
		return nil, fmt.Errorf("bad address %q", h)
	}
	ip := make(net.IP, len(b))
	for w := 0; w < len(b); w += 4 {
		ip[w], ip[w+1], ip[w+2], ip[w+3] = b[w+3], b[w+2], b[w+1], b[w]
	}
	return ip, nil
}
