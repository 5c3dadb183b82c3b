// Command waguard-bench measures waguard on the local stack: throughput
// and p50/p99 latency of the webhook and of send through the local API
// gateway at several concurrency levels, the AWS calls each message makes
// (counted by proxies between the functions and the emulators) priced per
// million messages at list prices, and the write-bound ceiling of the
// same DynamoDB Local (raw PutItem at the same concurrency, divided by
// the writes one webhook message needs). It prints a table and writes
// results.json and bench.png to -out.
//
// Usage (from the repository root, after `make tools build-local`):
//
//	go run ./bench/cmd/waguard-bench [-n 200] [-c 1,8,32]
//
// It starts its own stack with waguard-dev (-dev-bin) on free loopback
// ports and stops it at the end, or measures a running one (-stack-env,
// without call counts). Everything it sends goes to 127.0.0.1; each run
// is bounded by -n per level, -level-timeout and -timeout. It exits 1 if
// any request failed. See docs/performance.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	requests, rounds, senders, basePort, globalLimit, pool int
	levels                                                 []int
	levelTimeout, timeout                                  time.Duration
	devBin, template, stackEnv, outDir, replot             string
}

func main() {
	c := config{levels: []int{1, 8, 32}}
	flag.IntVar(&c.requests, "n", 400, "requests per workload and concurrency level (at most 10000)")
	flag.IntVar(&c.rounds, "rounds", 4, "interleaved rounds of webhook, ceiling and replay per level")
	flag.Func("c", "concurrency levels, comma-separated (default 1,8,32)", func(v string) error {
		c.levels = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > 256 {
				return errors.New("want integers from 1 to 256")
			}
			c.levels = append(c.levels, n)
		}
		return nil
	})
	flag.IntVar(&c.senders, "senders", 100, "distinct webhook senders")
	flag.DurationVar(&c.levelTimeout, "level-timeout", time.Minute, "time cap of each workload at each level")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "time cap of the whole run (the events function drains its stream slowly: minutes per level)")
	flag.StringVar(&c.devBin, "dev-bin", ".local/bin/waguard-dev", "waguard-dev binary that runs the local stack")
	flag.StringVar(&c.template, "template", "template.yaml", "SAM template the stack serves")
	flag.IntVar(&c.basePort, "ports", 0, "first of 14 consecutive loopback ports (gateway, DynamoDB, KMS, Secrets Manager, sandbox, moto, 3 proxies for the functions, 5 for the events function); 0 picks free ports")
	flag.IntVar(&c.pool, "pool", 4, "most Lambda runtime emulator instances per function (waguard-dev -pool)")
	flag.IntVar(&c.globalLimit, "global-limit", 0, "RateLimitGlobalPerSecond for the stack (0 keeps the template's default)")
	flag.StringVar(&c.stackEnv, "stack-env", "", "measure the running stack whose env file this is (no call counts, no cost)")
	flag.StringVar(&c.outDir, "out", "bench/out", "folder for results.json and bench.png")
	flag.StringVar(&c.replot, "replot", "", "only redraw bench.png (in -out) from this results.json, and print its tables")
	flag.Parse()
	if c.replot != "" {
		if err := replot(c.replot, c.outDir); err != nil {
			fmt.Fprintln(os.Stderr, "waguard-bench:", err)
			os.Exit(1)
		}
		return
	}
	if c.requests < 1 || c.requests > 10000 || c.rounds < 1 || c.rounds > c.requests || c.senders < 1 || c.senders > 5000 ||
		c.pool < 1 || c.pool > 64 {
		fmt.Fprintln(os.Stderr, "waguard-bench: want -n 1…10000, -rounds 1…n, -senders 1…5000 and -pool 1…64")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "waguard-bench:", err)
		os.Exit(1)
	}
	if n := res.failures(); n > 0 {
		fmt.Fprintf(os.Stderr, "waguard-bench: %d requests failed\n", n)
		os.Exit(1)
	}
}

// replot redraws the chart and reprints the tables of a finished run.
func replot(path, outDir string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	r.print(os.Stdout)
	return r.chart(filepath.Join(outDir, "bench.png"))
}

func run(ctx context.Context, c config) (*results, error) {
	var s *stack
	var err error
	if c.stackEnv != "" {
		s, err = attachStack(c.stackEnv)
	} else {
		fmt.Println("starting the local stack…")
		s, err = startStack(ctx, c)
	}
	if err != nil {
		return nil, err
	}
	defer s.close()
	b, err := newBench(ctx, c, s)
	if err != nil {
		return nil, err
	}
	res, err := b.run(ctx)
	if err != nil {
		return nil, err
	}
	if err := res.write(c.outDir); err != nil {
		return nil, err
	}
	res.print(os.Stdout)
	fmt.Printf("\nwrote %s/results.json and %s/bench.png\n", c.outDir, c.outDir)
	return res, nil
}
