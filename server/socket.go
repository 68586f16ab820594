package server

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Listen opens the provider's unix socket at path. The directory is created
// if needed; an old path is removed only when it is a socket (a regular file
// or directory there is an operator's mistake we must not destroy). On Unix
// the socket is created under umask 0077 so only root (the driver) can
// connect (socket_unix.go).
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the provider directory %s: %w", filepath.Dir(path), err)
	}
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&os.ModeSocket == 0:
		return nil, fmt.Errorf("%s exists and is not a socket (%s); refusing to delete it: remove it or choose another --provider-volume", path, fi.Mode().Type())
	case err == nil:
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, err)
		}
	case !os.IsNotExist(err):
		return nil, fmt.Errorf("checking %s: %w", path, err)
	}
	l, err := listenUnix(path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	return l, nil
}
