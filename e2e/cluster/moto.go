//go:build e2e

package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"time"
)

// ErrMotoMissing means moto_server is not on PATH.
var ErrMotoMissing = errors.New("moto_server not found on PATH (pip install 'moto[server]')")

// Moto is a running moto_server: one port that serves every region and
// service.
type Moto struct {
	URL  string
	Proc *Process
}

// StartMoto starts moto_server on a free loopback port.
func StartMoto(ctx context.Context, ws *Workspace) (*Moto, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrMotoMissing
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := ws.Start(ProcSpec{Name: "moto", Path: bin, Args: []string{"-H", "127.0.0.1", "-p", fmt.Sprint(port)}})
	if err != nil {
		return nil, err
	}
	m := &Moto{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Proc: p}
	hc := &http.Client{Timeout: 2 * time.Second}
	if err := waitReady(ctx, p, 60*time.Second, func() error {
		return get(hc, m.URL+"/moto-api/data.json", "")
	}); err != nil {
		p.Stop(5 * time.Second)
		return nil, err
	}
	return m, nil
}
