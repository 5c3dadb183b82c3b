package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// The EMF document: a root object holding the dimension values, the metric
// values and the _aws metadata.
type (
	metadata struct {
		CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
		Timestamp         int64       `json:"Timestamp"` // milliseconds since the epoch
	}
	directive struct {
		Namespace  string       `json:"Namespace"`
		Dimensions [][]string   `json:"Dimensions"`
		Metrics    []definition `json:"Metrics"`
	}
	definition struct {
		Name string `json:"Name"`
		Unit Unit   `json:"Unit,omitempty"`
	}
)

// Flush writes the metrics recorded since the last Flush to w as EMF JSON
// lines, one per 100 metrics, and resets the Recorder. It writes nothing if
// no metric was recorded. It skips, and reports in its error, metrics whose
// name is invalid or collides with a dimension and values that are NaN or
// infinite; the rest are still written.
func (r *Recorder) Flush(w io.Writer) error {
	r.mu.Lock()
	before := slices.Clone(r.before)
	r.mu.Unlock()
	for _, f := range before {
		f(r)
	}
	lines, skipErr := r.take()
	for _, line := range lines {
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("flush metrics: %w", err)
		}
	}
	return skipErr
}

// take renders and resets the recorded metrics.
func (r *Recorder) take() ([][]byte, error) {
	r.mu.Lock()
	metrics := r.metrics
	r.metrics = map[string]*metric{}
	r.mu.Unlock()

	names := make([]string, 0, len(metrics))
	var errs []error
	for name, m := range metrics {
		if err := r.check(name, m.value); err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var lines [][]byte
	for chunk := range slices.Chunk(names, maxMetricsPerDirective) {
		line, err := r.render(chunk, metrics)
		if err != nil {
			return lines, fmt.Errorf("flush metrics: %w", err)
		}
		lines = append(lines, line)
	}
	if len(errs) > 0 {
		return lines, fmt.Errorf("flush metrics: %w", errors.Join(errs...))
	}
	return lines, nil
}

// check reports why a metric cannot be written, or nil.
func (r *Recorder) check(name string, v float64) error {
	if !validText(name, maxNameLen) || name == "_aws" || r.isDimension(name) {
		return fmt.Errorf("invalid metric name %q", name)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("metric %q is not a finite number", name)
	}
	return nil
}

func (r *Recorder) isDimension(name string) bool {
	return slices.ContainsFunc(r.dims, func(d dimension) bool { return d.name == name })
}

// render returns one EMF line, ending in a newline, for the given names.
func (r *Recorder) render(names []string, metrics map[string]*metric) ([]byte, error) {
	root := make(map[string]any, len(names)+len(r.dims)+1)
	set := make([]string, len(r.dims))
	for i, d := range r.dims {
		set[i] = d.name
		root[d.name] = d.value
	}
	defs := make([]definition, len(names))
	for i, name := range names {
		defs[i] = definition{Name: name, Unit: metrics[name].unit}
		root[name] = metrics[name].value
	}
	root["_aws"] = metadata{
		CloudWatchMetrics: []directive{{Namespace: r.namespace, Dimensions: [][]string{set}, Metrics: defs}},
		Timestamp:         r.now().UnixMilli(),
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return append(b, '\n'), nil
}
