package bsuid_test

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/waguard/waguard/shared/bsuid"
)

func ExampleParse() {
	id, err := bsuid.Parse("US.13491208655302741918")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(id.Country(), id.IsParent(), len(id.Reveal()))
	fmt.Println(id) // redacted
	parent, _ := bsuid.Parse("US.ENT.11815799212886844830")
	fmt.Println(parent, parent.IsParent())
	_, err = bsuid.Parse("US.1349-1208")
	fmt.Println(err)
	// Output:
	// US false 23
	// US.…(20)
	// US.ENT.…(20) true
	// invalid business-scoped user id
}

func ExampleID_LogValue() {
	id, err := bsuid.Parse("US.13491208655302741918")
	if err != nil {
		fmt.Println(err)
		return
	}
	dropTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	log.Info("message received", "user_id", id)
	// Output:
	// {"level":"INFO","msg":"message received","user_id":"US.…(20)"}
}
