package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// WAMIDPrefix starts every WhatsApp message id.
const WAMIDPrefix = "wamid."

// ErrBadWAMID is returned by [ParseWAMID] for an id that does not have
// the structure of a Cloud API message id.
var ErrBadWAMID = errors.New("sandbox: malformed wamid")

// Thrift compact-protocol bytes seen in real wamids. A wamid is
// "wamid." + base64 of a struct whose first field is a nested struct
// {1: the user's number as a string, 2: i32 1}, whose second field is a
// bool (true for messages the business sent, false for messages it
// received) and whose third field is an upper-case hex string.
const (
	tStructField1 = 0x1c // field 1, type struct
	tBinaryField1 = 0x18 // field +1, type binary
	tI32Field2    = 0x15 // field +1, type i32
	tI32One       = 0x02 // zig-zag varint of 1
	tStop         = 0x00 // end of struct
	tBoolTrue     = 0x11 // field +1, bool true
	tBoolFalse    = 0x12 // field +1, bool false
)

// Random bytes in the hex part: 9 for sent messages, 10 for received
// ones, matching the 18 and 20 hex characters of Meta's examples.
const (
	outboundRandLen = 9
	inboundRandLen  = 10
	maxNumberLen    = 20
)

// WAMID is the decoded content of a message id.
type WAMID struct {
	// Number is the WhatsApp user's number (wa_id digits) embedded in the
	// id: the recipient of a sent message or the sender of a received one.
	Number string
	// Outbound is true for messages the business sent.
	Outbound bool
	// Key is the random hex part that makes the id unique.
	Key string
}

// NewWAMID returns a fresh message id that embeds number, the way real
// wamids do. number must be the wa_id digits (at most 20).
func NewWAMID(number string, outbound bool) string {
	n := outboundRandLen
	if !outbound {
		n = inboundRandLen
	}
	key := make([]byte, n)
	_, _ = rand.Read(key) // crypto/rand.Read never returns an error.
	return EncodeWAMID(WAMID{
		Number:   number,
		Outbound: outbound,
		Key:      strings.ToUpper(hex.EncodeToString(key)),
	})
}

// EncodeWAMID serialises w. [ParseWAMID] inverts it when Number is 1 to
// 20 digits and Key is 1 to 127 upper-case hex characters.
func EncodeWAMID(w WAMID) string {
	var b bytes.Buffer
	b.WriteByte(tStructField1)
	b.WriteByte(tBinaryField1)
	writeString(&b, w.Number)
	b.WriteByte(tI32Field2)
	b.WriteByte(tI32One)
	b.WriteByte(tStop)
	if w.Outbound {
		b.WriteByte(tBoolTrue)
	} else {
		b.WriteByte(tBoolFalse)
	}
	b.WriteByte(tBinaryField1)
	writeString(&b, w.Key)
	b.WriteByte(tStop)
	return WAMIDPrefix + base64.StdEncoding.EncodeToString(b.Bytes())
}

// writeString writes a one-byte length and s; callers keep s under 128
// bytes, so the varint length is a single byte.
func writeString(b *bytes.Buffer, s string) {
	if len(s) > 127 {
		s = s[:127]
	}
	b.WriteByte(byte(len(s)))
	b.WriteString(s)
}

// ParseWAMID decodes a message id produced by [NewWAMID] or by Meta. It
// returns [ErrBadWAMID] for anything else; the error never repeats the id.
func ParseWAMID(id string) (WAMID, error) {
	rest, ok := strings.CutPrefix(id, WAMIDPrefix)
	if !ok || strings.ContainsAny(rest, "\r\n") {
		return WAMID{}, ErrBadWAMID
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(rest)
	if err != nil {
		return WAMID{}, ErrBadWAMID
	}
	r := wamidReader{buf: raw}
	w, ok := r.parse()
	if !ok {
		return WAMID{}, ErrBadWAMID
	}
	return w, nil
}

// wamidReader walks the bytes of a decoded wamid with bounds checks.
type wamidReader struct {
	buf []byte
	pos int
}

// parse reads the whole structure and requires it to end exactly.
func (r *wamidReader) parse() (WAMID, bool) {
	var w WAMID
	ok := r.expect(tStructField1, tBinaryField1)
	w.Number, ok = r.str(ok, maxNumberLen)
	ok = ok && r.expect(tI32Field2, tI32One, tStop)
	flag, ok := r.byte(ok)
	w.Outbound = flag == tBoolTrue
	ok = ok && (flag == tBoolTrue || flag == tBoolFalse) && r.expect(tBinaryField1)
	w.Key, ok = r.str(ok, 127)
	ok = ok && r.expect(tStop) && r.pos == len(r.buf)
	return w, ok && isDigits(w.Number) && isUpperHex(w.Key)
}

// expect consumes want if the next bytes equal it.
func (r *wamidReader) expect(want ...byte) bool {
	if len(r.buf)-r.pos < len(want) || !bytes.Equal(r.buf[r.pos:r.pos+len(want)], want) {
		return false
	}
	r.pos += len(want)
	return true
}

// byte consumes one byte when ok.
func (r *wamidReader) byte(ok bool) (byte, bool) {
	if !ok || r.pos >= len(r.buf) {
		return 0, false
	}
	r.pos++
	return r.buf[r.pos-1], true
}

// str consumes a one-byte-length string of at most limit bytes when ok.
func (r *wamidReader) str(ok bool, limit int) (string, bool) {
	n, ok := r.byte(ok)
	if !ok || int(n) > limit || int(n) > len(r.buf)-r.pos || n == 0 {
		return "", false
	}
	s := string(r.buf[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s, true
}

// isDigits reports whether s is non-empty and only ASCII digits.
func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// isUpperHex reports whether s is non-empty upper-case hex.
func isUpperHex(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return s != ""
}
