package render

import (
	"context"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

var screenshot = flag.String("screenshot", "", "also copy the rendered screenshot here")

// chromium finds Debian's chromium. Without it the test skips locally but
// fails when CI is set: `make test` installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not installed: `make test` installs it (apt-get install chromium)")
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// TestHTMLRendersInChromium renders the HTML report headless and checks
// the screenshot: a real page with dark text on a light background and
// the pass and fail badge colours.
func TestHTMLRendersInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page, shot := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.png")
	if err := os.WriteFile(page, []byte(render(t, HTML, fixture())), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=1200,1600", "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium err = %v, output:\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("png.Decode(screenshot) err = %v, want nil", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 1600 {
		t.Errorf("screenshot is %dx%d, want 1200x1600", b.Dx(), b.Dy())
	}
	want := map[string]color.RGBA{
		"light background": {0xff, 0xff, 0xff, 0xff},
		"dark text":        {0x1b, 0x1f, 0x24, 0xff},
		"pass green":       {0x1a, 0x7f, 0x37, 0xff},
		"fail red":         {0xcf, 0x22, 0x2e, 0xff},
		"failed row":       {0xff, 0xeb, 0xe9, 0xff},
	}
	for name, c := range want {
		if n := countNear(img, c, 10); n < 50 {
			t.Errorf("screenshot has %d pixels of %s %v, want at least 50", n, name, c)
		}
	}
	if *screenshot != "" {
		b, _ := os.ReadFile(shot)
		if err := os.WriteFile(*screenshot, b, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// countNear counts pixels within tol of c on every channel.
func countNear(img image.Image, c color.RGBA, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, c.R, tol) && near(g>>8, c.G, tol) && near(bl>>8, c.B, tol) {
				n++
			}
		}
	}
	return n
}

func near(v uint32, want uint8, tol int) bool {
	d := int(v) - int(want)
	return d >= -tol && d <= tol
}
