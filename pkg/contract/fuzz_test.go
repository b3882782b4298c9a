package contract

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// FuzzParseTermination parses arbitrary pod-supplied termination messages. It must never panic; a
// parsed message must re-encode within MaxTerminationBytes (or fail only because fields other than
// the message and labels are too long) and parse back to the same value, except that an encoding
// that had to shorten drops the labels or cuts the message to a prefix ending in "...".
func FuzzParseTermination(f *testing.F) {
	f.Add(`{"result":"success","virtualSize":1073741824,"format":"qcow2","digest":"sha256:00"}`)
	f.Add(`{"result":"failure","message":"fetch: 503","retryable":true}`)
	f.Fuzz(func(t *testing.T, msg string) {
		first, err := ParseTermination(msg)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		b, err := first.Marshal()
		if err != nil {
			if fixedFieldsBytes(t, first) <= MaxTerminationBytes-400 {
				t.Fatalf("Marshal failed though the fields it cannot shorten are small: %v", err)
			}
			return
		}
		if len(b) > MaxTerminationBytes {
			t.Fatalf("Marshal gave %d bytes, over the %d limit", len(b), MaxTerminationBytes)
		}
		again, err := ParseTermination(string(b))
		if err != nil {
			t.Fatalf("Marshal output %q does not parse: %v", b, err)
		}
		checkRoundTrip(t, first, again)
	})
}

// fixedFieldsBytes is the encoded size of t without the fields Marshal may shorten or drop.
func fixedFieldsBytes(t *testing.T, term Termination) int {
	term.Message, term.Labels = "", nil
	b, err := json.Marshal(term)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// checkRoundTrip compares a parsed termination with the one parsed from its re-encoding.
func checkRoundTrip(t *testing.T, first, again Termination) {
	t.Helper()
	if first.Result != again.Result || first.Retryable != again.Retryable || first.VirtualSize != again.VirtualSize ||
		first.Format != again.Format || first.Digest != again.Digest {
		t.Fatalf("round trip changed fixed fields: result %q, format %q, digest %q became %q, %q, %q",
			tail(first.Result), tail(first.Format), tail(first.Digest), tail(again.Result), tail(again.Format), tail(again.Digest))
	}
	if len(again.Labels) > 0 && !maps.Equal(first.Labels, again.Labels) {
		t.Fatalf("round trip changed labels: %v became %v", first.Labels, again.Labels)
	}
	if again.Message == first.Message {
		return
	}
	cut, ok := strings.CutSuffix(again.Message, "...")
	if !ok || !strings.HasPrefix(first.Message, cut) || len(again.Message) >= len(first.Message) {
		t.Fatalf("round trip changed the message beyond shortening it: %d bytes ending %q became %d ending %q",
			len(first.Message), tail(first.Message), len(again.Message), tail(again.Message))
	}
	if len(again.Labels) > 0 {
		t.Fatal("message was shortened while labels were kept")
	}
}

// tail keeps failure messages short: the last 40 bytes of s.
func tail(s string) string {
	return s[max(len(s)-40, 0):]
}
