package chart

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestWritePNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.png")
	if dir := os.Getenv("CHART_OUT"); dir != "" {
		path = filepath.Join(dir, "bench.png")
	}
	pts := func(vs ...float64) []Point {
		var out []Point
		for i, c := range []int{1, 8, 32} {
			out = append(out, Point{Concurrency: c, Value: vs[i]})
		}
		return out
	}
	err := WritePNG(path, "waguard on the local stack (test data)",
		Panel{Title: "Throughput", YLabel: "messages per second", Series: []Series{
			{Name: "webhook", Points: pts(40, 70, 75), Color: Blue},
			{Name: "send", Points: pts(25, 50, 52), Color: Orange},
			{Name: "write-bound ceiling", Points: pts(150, 420, 460), Color: Grey, Dashed: true},
		}},
		Panel{Title: "Latency p99", YLabel: "milliseconds", Series: []Series{
			{Name: "webhook p99", Points: pts(30, 150, 600), Color: Blue},
			{Name: "send p99", Points: pts(50, 200, 900), Color: Orange},
		}},
		Panel{Title: "Share", YLabel: "percent", Series: []Series{
			{Name: "webhook ÷ ceiling", Points: pts(45, 50, 40), Color: Grey},
			{Name: "goal", Points: pts(60, 60, 60), Color: Grey, Dashed: true},
		}},
		Panel{Title: "CPU per message", YLabel: "ms", Categories: []string{"webhook", "ceiling", "send"}, Stacks: []Stack{
			{Name: "DynamoDB Local", Values: []float64{9, 4.5, 20}, Color: Grey},
			{Name: "functions", Values: []float64{2, 0, 5}, Color: Blue},
			{Name: "harness", Values: []float64{1.4, 1.8, 4}, Color: Silver},
		}})
	if err != nil {
		t.Fatalf("WritePNG() err = %v, want nil", err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("png.Decode() err = %v, want nil", err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 400 {
		t.Errorf("image is %v, want at least 800×400", b)
	}
}

func TestWritePNGRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		panels []Panel
	}{
		{"no panels", nil},
		{"concurrency zero", []Panel{{Series: []Series{{Name: "x", Points: []Point{{Concurrency: 0, Value: 1}}}}}}},
		{"NaN", []Panel{{Series: []Series{{Name: "x", Points: []Point{{Concurrency: 1, Value: math.NaN()}}}}}}},
		{"bars of the wrong length", []Panel{{Categories: []string{"a", "b"}, Stacks: []Stack{{Name: "x", Values: []float64{1}}}}}},
		{"negative bar", []Panel{{Categories: []string{"a"}, Stacks: []Stack{{Name: "x", Values: []float64{-1}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := WritePNG(filepath.Join(dir, "x.png"), "x", tc.panels...); err == nil {
				t.Errorf("WritePNG() err = nil, want an error")
			}
		})
	}
}
