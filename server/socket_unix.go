//go:build unix

package server

import (
	"net"
	"syscall"
)

// listenUnix creates the socket under umask 0077, so only its owner, root
// (the driver), can connect.
func listenUnix(path string) (net.Listener, error) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
