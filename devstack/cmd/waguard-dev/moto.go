package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/waguard/waguard/devstack/iamguard"
	"github.com/waguard/waguard/devstack/provision"
)

// launchMoto starts moto's server, the local EventBridge and SQS (only
// those: moto's Secrets Manager is less faithful than our emulator), on a
// free port behind devstack/iamguard's MotoProxy, which takes the stack's
// moto port. The returned function waits for it and starts the proxy;
// moto's Python start-up overlaps DynamoDB Local's JVM.
func (s *stack) launchMoto() (func(context.Context) error, error) {
	if s.c.MotoPort == 0 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.c.MotoPort = port
	}
	if portInUse(s.c.MotoPort) {
		return nil, fmt.Errorf("moto: port %d is already in use (another stack running? stop it or pass -moto-port)", s.c.MotoPort)
	}
	port := s.c.MotoPort
	if s.roles != nil {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	bin, err := s.motoServer()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// One account everywhere, so ARNs match what the functions, KMS and
	// iamguard see.
	cmd.Env = append(os.Environ(), "MOTO_ACCOUNT_ID="+accountID)
	wait, err := s.launch("moto", cmd, port)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if err := wait(ctx); err != nil || s.roles == nil {
			return err
		}
		target, _ := url.Parse(loopback(port))
		return s.serve("moto", s.c.MotoPort, &iamguard.MotoProxy{Target: target, AccountID: accountID, Roles: s.roles, Denied: s.denied})
	}, nil
}

// motoServer finds moto's server: -moto-server, else the one `make
// tools` links into the local bin folder, else moto_server on PATH.
func (s *stack) motoServer() (string, error) {
	if s.c.MotoServer != "" {
		return s.c.MotoServer, nil
	}
	local := filepath.Join(s.c.LocalDir, "bin", "moto_server")
	if _, err := os.Stat(local); err == nil {
		return filepath.Abs(local)
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	return "", errors.New("moto_server not found: run `make tools` (it installs moto[server] " + motoVersion + ")")
}

// motoVersion is the moto the Makefile pins (MOTO_VERSION).
const motoVersion = "5.2.1"

// messagingEnv exports the template's buses and queues for clients and
// tests: WAGUARD_<BUS>_NAME and _ARN, WAGUARD_<QUEUE>_QUEUE_URL and
// _QUEUE_ARN, named after their logical IDs (EventBus →
// WAGUARD_EVENT_BUS_NAME, EventsStreamFailures →
// WAGUARD_EVENTS_STREAM_FAILURES_QUEUE_URL).
func (s *stack) messagingEnv(res *provision.Result, buses, queues []string) {
	r := res.Resolver
	for _, id := range buses {
		s.env["WAGUARD_"+snake(id)+"_NAME"] = r.Attrs[id+".Name"]
		s.env["WAGUARD_"+snake(id)+"_ARN"] = r.Attrs[id+".Arn"]
	}
	for _, id := range queues {
		s.env["WAGUARD_"+snake(id)+"_QUEUE_URL"] = r.Attrs[id+".QueueUrl"]
		s.env["WAGUARD_"+snake(id)+"_QUEUE_ARN"] = r.Attrs[id+".Arn"]
	}
}

// createTaps adds to each bus a catch-all rule into a queue named
// <bus>-events-tap, for tests and `make dev` users to read back what the
// functions publish (WAGUARD_<BUS>_TAP_QUEUE_URL).
func (s *stack) createTaps(ctx context.Context, res *provision.Result, buses []string) error {
	c, err := s.clients(ctx)
	if err != nil {
		return err
	}
	for _, id := range buses {
		bus := res.Resolver.Attrs[id+".Name"]
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		tap, err := provision.CreateTap(tctx, c, bus, bus+"-events-tap", provision.TapPattern)
		cancel()
		if err != nil {
			return err
		}
		s.env["WAGUARD_"+snake(id)+"_TAP_QUEUE_URL"] = tap.QueueURL
	}
	return nil
}

// snake turns a logical ID into an environment name: EventsStreamFailures
// → EVENTS_STREAM_FAILURES.
func snake(id string) string {
	var b strings.Builder
	for i, r := range id {
		if i > 0 && r >= 'A' && r <= 'Z' && !(id[i-1] >= 'A' && id[i-1] <= 'Z') {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
