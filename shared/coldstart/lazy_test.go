package coldstart

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// TestLazy builds until a build succeeds, then never again.
func TestLazy(t *testing.T) {
	builds := 0
	l := NewLazy(func() (*int, error) {
		builds++
		if builds < 3 {
			return nil, fmt.Errorf("index key: %w: connection refused", ErrUnavailable)
		}
		v := builds
		return &v, nil
	})
	for i := range 2 {
		if h, err := l.Get(); h != nil || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get() %d = %v, %v; want nil, ErrUnavailable", i, h, err)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if h, err := l.Get(); err != nil || h == nil || *h != 3 {
				t.Errorf("Get() after recovery = %v, %v; want the third build", h, err)
			}
		})
	}
	wg.Wait()
	if builds != 3 {
		t.Errorf("builds = %d, want 3", builds)
	}
}

// TestUnavailable answers 503 dependency_unavailable, logs the failure
// without personal data and counts it.
func TestUnavailable(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	resp := Unavailable(log, "send", fmt.Errorf("index key: %w: timeout", ErrUnavailable), "route", "POST /v1/messages")
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != 503 || body.Error.Code != "dependency_unavailable" {
		t.Errorf("Unavailable() = %d %s, want 503 dependency_unavailable", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), "dependency unavailable") {
		t.Errorf("log = %s, want an error line naming the failure", logs.String())
	}
}
