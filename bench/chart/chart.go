// Package chart draws the benchmark's PNG with gonum/plot: line panels
// of a measure against the number of concurrent clients, and stacked-bar
// panels of a breakdown per workload, in a grid under one title.
package chart

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one measurement at a concurrency level.
type Point struct {
	Concurrency int
	Value       float64
}

// Series is one line.
type Series struct {
	Name   string
	Points []Point
	// Color picks the line's colour; Dashed draws it dashed (a bound or
	// a secondary measure rather than a result).
	Color  color.Color
	Dashed bool
}

// Stack is one layer of a stacked-bar panel: a value per category.
type Stack struct {
	Name   string
	Values []float64
	Color  color.Color
}

// Panel is one plot: lines against concurrency (Series), or stacked bars
// over Categories (Stacks, bottom first).
type Panel struct {
	Title, YLabel string
	Series        []Series
	Categories    []string
	Stacks        []Stack
}

// Colours readable on white.
var (
	Blue   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	Orange = color.RGBA{R: 0xd6, G: 0x5f, B: 0x00, A: 0xff}
	Grey   = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
	Green  = color.RGBA{R: 0x2c, G: 0x8c, B: 0x3c, A: 0xff}
	Purple = color.RGBA{R: 0x75, G: 0x4f, B: 0xa0, A: 0xff}
	Sand   = color.RGBA{R: 0xc9, G: 0xb0, B: 0x7a, A: 0xff}
	Silver = color.RGBA{R: 0xb0, G: 0xb0, B: 0xb0, A: 0xff}
)

const (
	panelWidth, panelHeight = 12 * vg.Centimeter, 9.5 * vg.Centimeter
	titleHeight             = vg.Centimeter
)

// WritePNG draws the panels under a title, two to a row when there are
// more than two, and writes the image to path.
func WritePNG(path, title string, panels ...Panel) error {
	if len(panels) == 0 {
		return errors.New("chart: no panels")
	}
	cols := min(len(panels), 2)
	rows := (len(panels) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i, pn := range panels {
		p, err := newPlot(pn)
		if err != nil {
			return err
		}
		if plots[i/cols] == nil {
			plots[i/cols] = make([]*plot.Plot, cols)
		}
		plots[i/cols][i%cols] = p
	}
	img := vgimg.NewWith(vgimg.UseWH(panelWidth*vg.Length(cols), panelHeight*vg.Length(rows)+titleHeight), vgimg.UseDPI(144))
	dc := draw.New(img)
	heading(dc, title)
	body := dc
	body.Max.Y -= titleHeight
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Centimeter, PadY: vg.Centimeter, PadTop: 2 * vg.Millimeter,
		PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, body)
	for r := range plots {
		for c, p := range plots[r] {
			if p != nil {
				p.Draw(canvases[r][c])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write png: %w", err)
	}
	return f.Close()
}

func heading(dc draw.Canvas, title string) {
	h := plot.DefaultTextHandler
	sty := draw.TextStyle{Color: color.Black, XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: h}
	sty.Font = h.Cache().Lookup(plot.DefaultFont, vg.Points(13)).Font
	dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y - titleHeight/2}, title)
}

func newPlot(pn Panel) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = pn.Title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.Text = pn.YLabel
	p.Y.Min = 0
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Y.Tick.Marker = plainTicks{}
	p.Add(plotter.NewGrid())
	if len(pn.Stacks) > 0 {
		return p, addBars(p, pn)
	}
	return p, addLines(p, pn)
}

func addLines(p *plot.Plot, pn Panel) error {
	p.X.Label.Text = "concurrent clients (log scale)"
	p.X.Scale = plot.LogScale{}
	levels := map[int]bool{}
	top := 0.0
	for _, s := range pn.Series {
		xys := make(plotter.XYs, len(s.Points))
		for i, pt := range s.Points {
			if pt.Concurrency < 1 || math.IsNaN(pt.Value) || math.IsInf(pt.Value, 0) {
				return fmt.Errorf("chart: %s: bad point %+v", s.Name, pt)
			}
			xys[i] = plotter.XY{X: float64(pt.Concurrency), Y: pt.Value}
			levels[pt.Concurrency] = true
			top = max(top, pt.Value)
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("chart: %s: %w", s.Name, err)
		}
		line.Color, points.Color = s.Color, s.Color
		line.Width = vg.Points(1.5)
		points.Shape, points.Radius = draw.CircleGlyph{}, vg.Points(2.5)
		if s.Dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			points.Shape = draw.BoxGlyph{}
		}
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
	}
	// Headroom for the legend above the highest point.
	p.Y.Max = top * (1.15 + 0.12*float64(len(pn.Series)))
	var ticks []plot.Tick
	lo, hi := math.Inf(1), 0.0
	for c := range levels {
		ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
		lo, hi = min(lo, float64(c)), max(hi, float64(c))
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if len(levels) > 0 {
		p.X.Min, p.X.Max = lo*0.8, hi*1.25 // room for the end points
	}
	return nil
}

func addBars(p *plot.Plot, pn Panel) error {
	const width = 28 // points
	var below *plotter.BarChart
	var layers []*plotter.BarChart
	tops := make([]float64, len(pn.Categories))
	for _, s := range pn.Stacks {
		if len(s.Values) != len(pn.Categories) {
			return fmt.Errorf("chart: %s: %d values for %d categories", s.Name, len(s.Values), len(pn.Categories))
		}
		for i, v := range s.Values {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("chart: %s: bad value %v", s.Name, v)
			}
			tops[i] += v
		}
		bars, err := plotter.NewBarChart(plotter.Values(s.Values), vg.Points(width))
		if err != nil {
			return fmt.Errorf("chart: %s: %w", s.Name, err)
		}
		bars.Color = s.Color
		bars.LineStyle.Width = 0
		if below != nil {
			bars.StackOn(below)
		}
		below = bars
		p.Add(bars)
		layers = append(layers, bars)
	}
	for i := len(layers) - 1; i >= 0; i-- { // legend top-down, like the stack
		p.Legend.Add(pn.Stacks[i].Name, layers[i])
	}
	p.NominalX(pn.Categories...)
	p.Legend.Left = false
	top := 0.0
	for _, t := range tops {
		top = max(top, t)
	}
	p.Y.Max = top * (1.15 + 0.1*float64(len(pn.Stacks)))
	return nil
}

// plainTicks are gonum's default ticks labelled without trailing zeros.
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}
