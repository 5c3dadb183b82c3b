package whatsapp_test

import (
	"fmt"
	"os"

	"github.com/waguard/waguard/shared/whatsapp"
)

func ExampleParse() {
	body, err := os.ReadFile("testdata/webhook/interactive_button_reply.json")
	if err != nil {
		panic(err)
	}
	env, err := whatsapp.Parse(body)
	if err != nil {
		panic(err)
	}
	for _, ev := range whatsapp.Events(env) {
		fmt.Println(ev) // prints no number, wamid, name or text
		if ev.Kind == whatsapp.KindMessage && ev.Message.ReplyID == "consent-no" {
			fmt.Println("opt-out from a number of", len(ev.Message.From), "digits")
		}
	}
	// Output:
	// whatsapp.Event{message {type="interactive" time=2026-01-01T00:01:40Z id_len=62 from_len=12 name_len=12 text_len=0 reply_id_len=10 reply_title_len=2}}
	// opt-out from a number of 12 digits
}

func ExampleParseNormalized() {
	ev, err := whatsapp.ParseNormalized([]byte(`{"id":"msg_1","from":"+447700900123","timestamp":1767225600,` +
		`"type":"text","text":"hello","to_phone_number_id":"100000000000001"}`))
	fmt.Println(ev, err)
	_, err = whatsapp.ParseNormalized([]byte(`{"id":"msg_1","from":"447700900123","timestamp":1767225600,` +
		`"type":"text","text":"hello","to_phone_number_id":"100000000000001"}`))
	fmt.Println(err)
	// Output:
	// whatsapp.Event{message {type="text" time=2026-01-01T00:00:00Z id_len=5 from_len=12 name_len=0 text_len=5 reply_id_len=0 reply_title_len=0}} <nil>
	// parse normalized message: from must be E.164: whatsapp: malformed payload
}
