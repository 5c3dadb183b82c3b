package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// spawn starts a child process, logs its output and waits for its port.
func (s *stack) spawn(ctx context.Context, name string, cmd *exec.Cmd, port int) error {
	wait, err := s.launch(name, cmd, port)
	if err != nil {
		return err
	}
	return wait(ctx)
}

// launch starts a child process and logs its output; the function it
// returns waits for the process's port, so slow starters (a JVM, a
// Python server) can start side by side.
func (s *stack) launch(name string, cmd *exec.Cmd, port int) (func(context.Context) error, error) {
	if portInUse(port) {
		return nil, fmt.Errorf("%s: port %d is already in use (another stack running? stop it or pass -%s-port)", name, port, name)
	}
	f, err := os.Create(filepath.Join(s.runDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.procs = append(s.procs, cmd)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.exited = append(s.exited, exited)
	return func(ctx context.Context) error {
		deadline := time.Now().Add(2 * time.Minute) // a JVM on a loaded machine is slow
		for !portInUse(port) {
			select {
			case <-exited:
				return fmt.Errorf("%s exited before it listened on %d (see %s)", name, port, f.Name())
			default:
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s did not listen on %d (see %s)", name, port, f.Name())
			}
			time.Sleep(50 * time.Millisecond)
		}
		return nil
	}, nil
}

func portInUse(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 100*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// serve runs an in-process server on a loopback port.
func (s *stack) serve(name string, port int, h http.Handler) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(l) }()
	return nil
}
