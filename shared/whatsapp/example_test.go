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
	// whatsapp.Event{message {type="interactive" time=2026-01-01T00:01:40Z id_len=62 from_len=12 user_id_len=0 parent_user_id_len=0 name_len=12 username_len=0 text_len=0 reply_id_len=10 reply_title_len=2}}
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
	// whatsapp.Event{message {type="text" time=2026-01-01T00:00:00Z id_len=5 from_len=12 user_id_len=0 parent_user_id_len=0 name_len=0 username_len=0 text_len=5 reply_id_len=0 reply_title_len=0}} <nil>
	// parse normalized message: from must be E.164: whatsapp: malformed payload
}

func ExampleParse_businessScopedUserIDs() {
	// A phone-only, a BSUID-only and an unattributable message.
	body, err := os.ReadFile("testdata/bsuid/batch_mixed.json")
	if err != nil {
		panic(err)
	}
	env, err := whatsapp.Parse(body)
	if err != nil {
		panic(err)
	}
	for _, ev := range whatsapp.Events(env) {
		switch m := ev.Message; {
		case m.From != "":
			fmt.Println("from a number of", len(m.From), "digits")
		case !m.FromUserID.IsZero():
			fmt.Println("from BSUID", m.FromUserID, "with a username of", len(m.Username), "characters")
		default:
			fmt.Println("from nobody: count it as ignored")
		}
	}
	// Output:
	// from a number of 11 digits
	// from BSUID US.…(20) with a username of 10 characters
	// from nobody: count it as ignored
}
