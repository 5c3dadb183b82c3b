package main

import "testing"

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr bool
	}{
		{"127.0.0.1:8003", false},
		{"[::1]:8003", false},
		{"localhost:8003", false},
		{"0.0.0.0:8003", true},
		{":8003", true},
		{"192.0.2.10:8003", true},
		{"example.com:8003", true},
		{"no-port", true},
	}
	for _, tt := range tests {
		if err := checkLoopback(tt.addr); (err != nil) != tt.wantErr {
			t.Errorf("checkLoopback(%q) err = %v, want error: %v", tt.addr, err, tt.wantErr)
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Setenv("WASANDBOX_TOKEN", "EAAtest-env-token")
	t.Setenv("WASANDBOX_APP_SECRET", "")
	tests := []struct {
		name       string
		args       []string
		wantTokens int
		wantErr    bool
	}{
		{"defaults use env token", nil, 1, false},
		{"repeated tokens", []string{"-token", "a", "-token", "b"}, 2, false},
		{"public address", []string{"-addr", "0.0.0.0:8003"}, 1, true},
		{"unknown flag", []string{"-verbose"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFlags(%q) err = %v, want error: %v", tt.args, err, tt.wantErr)
			}
			if err == nil && len(c.opts.AccessTokens) != tt.wantTokens {
				t.Errorf("parseFlags(%q) tokens = %d, want %d", tt.args, len(c.opts.AccessTokens), tt.wantTokens)
			}
		})
	}
}
