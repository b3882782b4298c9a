package contract

import (
	"strings"
	"testing"
)

func TestTerminationMarshalFitsLimit(t *testing.T) {
	tests := []struct {
		name        string
		in          Termination
		wantLabels  bool
		wantMessage string
	}{
		{name: "small stays whole", in: Termination{Result: ResultSuccess, Labels: map[string]string{"a": "b"}}, wantLabels: true},
		{name: "huge labels dropped", in: Termination{Result: ResultSuccess, Labels: map[string]string{"a": strings.Repeat("x", 5000)}}},
		{name: "huge message cut", in: Termination{Result: ResultFailure, Message: strings.Repeat("y", 9000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.in.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > MaxTerminationBytes {
				t.Fatalf("marshalled %d bytes, limit %d", len(b), MaxTerminationBytes)
			}
			got, err := ParseTermination(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if (len(got.Labels) > 0) != tt.wantLabels {
				t.Errorf("labels kept = %v, want %v", len(got.Labels) > 0, tt.wantLabels)
			}
			if got.Result != tt.in.Result {
				t.Errorf("result %q, want %q", got.Result, tt.in.Result)
			}
		})
	}
}

func TestParseTerminationRejectsGarbage(t *testing.T) {
	for _, msg := range []string{"", "not json", `{"result":"maybe"}`} {
		if _, err := ParseTermination(msg); err == nil {
			t.Errorf("ParseTermination(%q) = nil error", msg)
		}
	}
}
