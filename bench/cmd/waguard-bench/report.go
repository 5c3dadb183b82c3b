package main

import (
	"fmt"
	"image/color"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/waguard/waguard/bench/chart"
)

func (r *results) chart(path string) error {
	series := func(name string, c color.Color, dashed bool, v func(levelResult) float64) chart.Series {
		s := chart.Series{Name: name, Color: c, Dashed: dashed}
		for _, l := range r.Results {
			s.Points = append(s.Points, chart.Point{Concurrency: l.Concurrency, Value: v(l)})
		}
		return s
	}
	tput := []chart.Series{
		series("webhook", chart.Blue, false, func(l levelResult) float64 { return l.Webhook.Throughput }),
		series("send", chart.Orange, false, func(l levelResult) float64 { return l.Send.Throughput }),
	}
	if r.Counted {
		tput = append(tput,
			series("write-bound ceiling (PutItem/s ÷ writes per webhook msg)", chart.Grey, true,
				func(l levelResult) float64 { return l.Ceiling.MessagesPerSecond }),
			series("webhook's DynamoDB calls, replayed directly", chart.Green, true,
				func(l levelResult) float64 { return l.Replay.Throughput }))
	}
	lat := []chart.Series{
		series("webhook p99", chart.Blue, false, func(l levelResult) float64 { return l.Webhook.P99Ms }),
		series("send p99", chart.Orange, false, func(l levelResult) float64 { return l.Send.P99Ms }),
		series("webhook p50", chart.Blue, true, func(l levelResult) float64 { return l.Webhook.P50Ms }),
		series("send p50", chart.Orange, true, func(l levelResult) float64 { return l.Send.P50Ms }),
	}
	if r.Counted {
		lat = append(lat,
			series("event receipt p99 (200 → endpoint)", chart.Purple, false, func(l levelResult) float64 { return l.Events.P99Ms }),
			series("event receipt p50", chart.Purple, true, func(l levelResult) float64 { return l.Events.P50Ms }))
	}
	if len(r.Results) > 0 && r.Results[0].Held.Requests > 0 {
		lat = append(lat, series("webhook p99, events function held", chart.Green, false, func(l levelResult) float64 { return l.Held.P99Ms }))
	}
	title := fmt.Sprintf("waguard on the local stack: %d requests per level, %d CPUs, %s", r.Requests, r.Machine.CPUs,
		r.Started.Format("2006-01-02"))
	panels := []chart.Panel{
		{Title: "Throughput through the local gateway", YLabel: "messages per second", Series: tput},
		{Title: "Latency (solid p99, dashed p50)", YLabel: "milliseconds", Series: lat},
	}
	if r.Counted {
		panels = append(panels, chart.Panel{Title: "Webhook throughput as a share", YLabel: "percent", Series: []chart.Series{
			series("of the write-bound ceiling", chart.Grey, false, func(l levelResult) float64 { return 100 * l.WebhookOfCeiling }),
			series("of its DynamoDB calls replayed", chart.Green, false, func(l levelResult) float64 { return 100 * l.WebhookOfReplay }),
			series("goal vs ceiling (60 %)", chart.Grey, true, func(levelResult) float64 { return 60 }),
		}})
	}
	if cpu := r.cpuPanel(); len(cpu.Stacks) > 0 {
		panels = append(panels, cpu)
	}
	return chart.WritePNG(path, title, panels...)
}

// cpuPanel stacks the CPU per message of each workload by part.
func (r *results) cpuPanel() chart.Panel {
	colours := map[string]color.Color{cpuDynamoDB: chart.Grey, cpuFunctions: chart.Blue, cpuRIE: chart.Purple,
		cpuDevStack: chart.Orange, cpuKMS: chart.Sand, cpuHarness: chart.Silver}
	pn := chart.Panel{Title: "CPU per message by part (all levels)", YLabel: "CPU milliseconds"}
	var cats []string
	for _, c := range []string{"webhook", "ceiling", "replay", "send"} {
		if len(r.CPU[c]) > 0 {
			cats = append(cats, c)
		}
	}
	pn.Categories = cats
	for _, g := range cpuGroups {
		st := chart.Stack{Name: g, Color: colours[g]}
		used := false
		for _, c := range cats {
			v := max(r.CPU[c][g], 0)
			st.Values = append(st.Values, v)
			used = used || v > 0.005
		}
		if used {
			pn.Stacks = append(pn.Stacks, st)
		}
	}
	return pn
}

// print writes the tables.
func (r *results) print(out io.Writer) {
	fmt.Fprintf(out, "\nwaguard-bench %s: %d requests per workload and level, %d CPUs (%s), load %s → %s\n\n",
		r.Started.Format(time.RFC3339), r.Requests, r.Machine.CPUs, r.Machine.OS, r.Machine.LoadBefore, r.Machine.LoadAfter)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\twebhook\t\t\t\tsend\t\t\t\t")
	fmt.Fprintln(w, "clients\tmsg/s\tp50 ms\tp99 ms\terrors\tmsg/s\tp50 ms\tp99 ms\terrors\t")
	for _, l := range r.Results {
		fmt.Fprintf(w, "%d\t%.1f\t%.1f\t%.1f\t%d\t%.1f\t%.1f\t%.1f\t%d\t\n", l.Concurrency,
			l.Webhook.Throughput, l.Webhook.P50Ms, l.Webhook.P99Ms, l.Webhook.Errors,
			l.Send.Throughput, l.Send.P50Ms, l.Send.P99Ms, l.Send.Errors)
	}
	w.Flush()
	if r.Counted {
		r.printCeilings(out)
		r.printEvents(out)
	}
	r.printCPU(out)
	if !r.Counted {
		fmt.Fprintln(out, "\n(attached stack: AWS calls not counted, no cost)")
		return
	}
	r.printUsage(out)
}

func (r *results) printCeilings(out io.Writer) {
	c := r.Results[0].Ceiling
	fmt.Fprintf(out, "\nwrite-bound ceiling: raw PutItem/s ÷ %.2f writes per webhook message (items of %d bytes);\n", c.WritesPerMessage, c.ItemBytes)
	sh := r.Results[0].Replay.Shape
	fmt.Fprintf(out, "replay: the webhook's DynamoDB calls made directly (%d GetItem + TransactWriteItems of %d Put, %d of them indexed, %d ConditionCheck)\n",
		sh.Gets, sh.Puts, sh.Indexed, sh.Checks)
	fmt.Fprintf(out, "ratios: median (and range) over %d interleaved rounds of webhook, ceiling and replay; throughputs pooled\n", r.Rounds)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "clients\twebhook msg/s\tPutItem/s\tceiling msg/s\twebhook/ceiling (rounds)\treplay msg/s\twebhook/replay (rounds)\terrors\t")
	for _, l := range r.Results {
		var wc, wr []float64
		for _, rd := range l.Rounds {
			wc, wr = append(wc, rd.WebhookOfCeiling), append(wr, rd.WebhookOfReplay)
		}
		fmt.Fprintf(w, "%d\t%.1f\t%.0f\t%.1f\t%s\t%.1f\t%s\t%d\t\n", l.Concurrency, l.Webhook.Throughput,
			l.Ceiling.PutsPerSecond, l.Ceiling.MessagesPerSecond, percentRange(l.WebhookOfCeiling, wc), l.Replay.Throughput,
			percentRange(l.WebhookOfReplay, wr), l.Ceiling.Errors+l.Replay.Errors)
	}
	w.Flush()
}

// percentRange formats a median ratio with the range of its rounds.
func percentRange(median float64, rounds []float64) string {
	if len(rounds) < 2 {
		return fmt.Sprintf("%.0f %%", 100*median)
	}
	return fmt.Sprintf("%.0f %% (%.0f–%.0f)", 100*median, 100*slices.Min(rounds), 100*slices.Max(rounds))
}

// cpuGroups is the order of the CPU table's rows.
var cpuGroups = []string{cpuDynamoDB, cpuFunctions, cpuRIE, cpuDevStack, cpuKMS, cpuHarness}

func (r *results) printCPU(out io.Writer) {
	if len(r.CPU) == 0 {
		return
	}
	fmt.Fprintln(out, "\nCPU ms per message by part of the stack, all levels (ceiling: PutItems of one message's writes;")
	fmt.Fprintln(out, "replay: one message's DynamoDB calls made directly)")
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	cols := []string{"webhook", "ceiling", "replay", "send"}
	fmt.Fprintln(w, "\t"+strings.Join(cols, "\t")+"\t")
	for _, g := range append(cpuGroups, "total") {
		fmt.Fprint(w, g+"\t")
		for _, c := range cols {
			v := r.CPU[c][g]
			if g == "total" {
				v = total(r.CPU[c])
			}
			fmt.Fprintf(w, "%.2f\t", v)
		}
		fmt.Fprintln(w)
	}
	w.Flush()
	if r.CPUBoundRatio > 0 {
		fmt.Fprintf(out, "ceiling CPU ÷ webhook CPU per message: %.0f %% (webhook/ceiling if both were CPU-bound)\n", 100*r.CPUBoundRatio)
	}
}

// printEvents writes what one inbound message produced out of waguard,
// by destination and level, and its events' receipt latency.
func (r *results) printEvents(out io.Writer) {
	fmt.Fprintln(out, "\nevents out per webhook message (the events function, triggered by the audit stream): billed bus events")
	fmt.Fprintln(out, "(EventBridge PutEvents entries), events the sandbox endpoint accepted and POSTs it got (receipt: the")
	fmt.Fprintln(out, "webhook's 200 → the event's arrival at the sandbox endpoint; events/s: accepted per second from the start of a")
	fmt.Fprintln(out, "run to its last event; settled: the longest wait after a run for its last event)")
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "clients\tmessages\tbus events\tendpoint events\tendpoint POSTs\treceipt p50 ms\tp99 ms\tmax ms\tevents/s\tsettled s\tmissing\t")
	row := func(name string, e eventsResult) {
		fmt.Fprintf(w, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.0f\t%.0f\t%.0f\t%.1f\t%.1f\t%d\t\n", name, e.Messages, e.BusEvents, e.EndpointEvents,
			e.EndpointAttempts, e.P50Ms, e.P99Ms, e.MaxMs, e.PerSecond, e.SettleS, e.Missing)
	}
	if len(r.Setup) > 0 {
		row(fmt.Sprintf("%d, new senders", r.Setup[0].Concurrency), r.FirstContactEvents)
	}
	if r.EventsAlone.Messages > 0 {
		row("1, one at a time", r.EventsAlone)
	}
	for _, l := range r.Results {
		row(fmt.Sprint(l.Concurrency), l.Events)
	}
	row("all levels", r.EventsOut)
	w.Flush()
	r.printHeld(out)
}

// printHeld compares the webhook's latency with the events function
// running and with its stream trigger held, measured in the same rounds.
func (r *results) printHeld(out io.Writer) {
	if len(r.Results) == 0 || r.Results[0].Held.Requests == 0 {
		return
	}
	fmt.Fprintln(out, "\nwebhook with the events function running vs. held (its stream trigger answered \"no new records\" during the")
	fmt.Fprintf(out, "run, then released and drained), alternating in the same %d rounds; p99 ratio: running ÷ held, median (range) of rounds\n", r.Rounds)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "clients\trunning msg/s\theld msg/s\trunning p50 ms\theld p50 ms\trunning p99 ms\theld p99 ms\tp99 running/held (rounds)\terrors\tmissing\t")
	for _, l := range r.Results {
		var ph []float64
		for _, rd := range l.Rounds {
			if rd.P99OfHeld > 0 {
				ph = append(ph, rd.P99OfHeld)
			}
		}
		fmt.Fprintf(w, "%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%d\t%d\t\n", l.Concurrency, l.Webhook.Throughput, l.Held.Throughput,
			l.Webhook.P50Ms, l.Held.P50Ms, l.Webhook.P99Ms, l.Held.P99Ms, percentRange(l.P99OfHeld, ph), l.Held.Errors, l.HeldMissing)
	}
	w.Flush()
}

func (r *results) printUsage(out io.Writer) {
	cols := []usage{r.Webhook, r.Send, r.FirstContact, r.Events, r.EventsFirstContact}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(out, "\nAWS usage per message (steady state over all levels; \"new sender\": a new sender's first message;")
	fmt.Fprintln(out, "events: what the events function did for each webhook message, both destinations)")
	fmt.Fprintln(w, "\twebhook\tsend\twebhook, new sender\tevents\tevents, new sender\t")
	keys := map[string]bool{}
	for _, u := range cols {
		for k := range u.Calls {
			keys[k] = true
		}
	}
	row := func(name, format string, v func(usage) float64) {
		fmt.Fprint(w, name+"\t")
		for _, u := range cols {
			fmt.Fprintf(w, format+"\t", v(u))
		}
		fmt.Fprintln(w)
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		row(k+" calls", "%.2f", func(u usage) float64 { return u.Calls[k] })
	}
	row("DynamoDB item writes", "%.2f", func(u usage) float64 { return u.ItemWrites })
	row("DynamoDB index (GSI) writes", "%.2f", func(u usage) float64 { return u.IndexWrites })
	row("DynamoDB WRU (on-demand)", "%.2f", func(u usage) float64 { return u.WRU })
	row("DynamoDB RRU (on-demand)", "%.2f", func(u usage) float64 { return u.RRU })
	row("EventBridge events (billed)", "%.2f", func(u usage) float64 { return u.EventBridgeEvents })
	row("DynamoDB stream records read", "%.2f", func(u usage) float64 { return u.StreamRecords })
	row("Lambda invocations", "%.2f", func(u usage) float64 { return u.LambdaInvocations })
	row(fmt.Sprintf("Lambda billed ms per message (%d MB, lowest level)", r.Webhook.MemoryMB), "%.1f", func(u usage) float64 { return u.BilledMs })
	w.Flush()
	fmt.Fprintf(out, "\nUSD per million messages, %s list prices as of %s (free tiers ignored; stream reads by a Lambda trigger are free)\n",
		r.Prices.Region, r.Prices.AsOf)
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\twebhook\tsend\twebhook, new sender\tevents\tevents, new sender\t")
	lines := []costLines{r.Cost["webhook"], r.Cost["send"], r.Cost["webhook_first_contact"], r.Cost["events"], r.Cost["events_first_contact"]}
	for _, f := range []struct {
		name string
		v    func(costLines) float64
	}{
		{"DynamoDB", func(c costLines) float64 { return c.DynamoDB }},
		{"KMS", func(c costLines) float64 { return c.KMS }},
		{"Secrets Manager", func(c costLines) float64 { return c.SecretsManager }},
		{"Lambda (requests + arm64 GB-s)", func(c costLines) float64 { return c.Lambda }},
		{"API Gateway HTTP API", func(c costLines) float64 { return c.APIGateway }},
		{"EventBridge (bus)", func(c costLines) float64 { return c.EventBridge }},
		{"total", func(c costLines) float64 { return c.Total }},
	} {
		fmt.Fprint(w, f.name+"\t")
		for _, c := range lines {
			fmt.Fprintf(w, "%.2f\t", f.v(c))
		}
		fmt.Fprintln(w)
	}
	w.Flush()
}
