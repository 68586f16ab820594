//go:build windows

package server

import "net"

// listenUnix creates the socket (Windows has AF_UNIX sockets too, and the
// Secrets Store CSI Driver dials them). There is no umask: the socket's
// access is that of the provider directory it is created in.
func listenUnix(path string) (net.Listener, error) {
	return net.Listen("unix", path)
}
