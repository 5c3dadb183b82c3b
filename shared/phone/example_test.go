package phone_test

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/waguard/waguard/shared/phone"
)

func ExampleParse() {
	n, err := phone.Parse("+44 (0)20 7946 0123")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n.E164(), n.Digits(), n.CountryCode())
	fmt.Println(n) // redacted
	_, err = phone.Parse("020 7946 0123")
	fmt.Println(err)
	// Output:
	// +442079460123 442079460123 44
	// +44…23
	// invalid phone number
}

func ExampleParseWAID() {
	// WhatsApp reports Mexican mobile numbers with the pre-2019 "1".
	n, err := phone.ParseWAID("5215512345678")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n.E164())
	// Output:
	// +525512345678
}

func ExampleNumber_LogValue() {
	n, err := phone.Parse("+1 202 555 0123")
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
	log.Info("message sent", "to", n)
	// Output:
	// {"level":"INFO","msg":"message sent","to":"+1…23"}
}
