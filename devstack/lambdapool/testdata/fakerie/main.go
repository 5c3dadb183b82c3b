// Command fakerie stands in for aws-lambda-rie in the lambdapool tests. It
// serves the invoke endpoint on --runtime-interface-emulator-address and
// ignores every other flag and argument. The request payload steers it:
//
//	{"sleep_ms":200}   answer after a pause
//	{"fail":true}      answer the runtime's error document
//	{"status":502}     answer with that HTTP status
//	{"env":"NAME"}     report the environment variable NAME
//	{"exit":true}      crash without answering
//
// Every answer carries the process id, so tests can count instances. Like
// one Lambda execution environment it serves one invocation at a time; an
// overlapping invocation gets 409, which the pool must never cause.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	addr := ""
	for i, a := range os.Args {
		if a == "--runtime-interface-emulator-address" && i+1 < len(os.Args) {
			addr = os.Args[i+1]
		}
	}
	if addr == "" {
		fmt.Fprintln(os.Stderr, "fakerie: --runtime-interface-emulator-address missing")
		os.Exit(2)
	}
	var busy sync.Mutex
	http.HandleFunc("POST /2015-03-31/functions/function/invocations", func(w http.ResponseWriter, r *http.Request) {
		if !busy.TryLock() {
			http.Error(w, "overlapping invocation", http.StatusConflict)
			return
		}
		defer busy.Unlock()
		var in struct {
			SleepMS int    `json:"sleep_ms"`
			Fail    bool   `json:"fail"`
			Status  int    `json:"status"`
			Env     string `json:"env"`
			Exit    bool   `json:"exit"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Exit {
			os.Exit(3)
		}
		time.Sleep(time.Duration(in.SleepMS) * time.Millisecond)
		switch {
		case in.Fail:
			fmt.Fprint(w, `{"errorMessage":"boom","errorType":"FakeError"}`)
		case in.Status != 0:
			w.WriteHeader(in.Status)
			fmt.Fprint(w, `{"errorMessage":"status","errorType":"Rie"}`)
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"pid": os.Getpid(), "env": os.Getenv(in.Env)})
		}
	})
	fmt.Printf("fakerie listening pid=%d\n", os.Getpid())
	fmt.Print("partial ")
	fmt.Println("line joined")
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "fakerie:", err)
		os.Exit(1)
	}
}
