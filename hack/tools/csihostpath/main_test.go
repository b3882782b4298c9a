package main

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1Ti", want: 1 << 40},
		{in: "512Mi", want: 512 << 20},
		{in: "3Gi", want: 3 << 30},
		{in: "4096", want: 4096},
		{in: "500M", want: 500e6},
		{in: "2k", want: 2000},
		{in: "8Pi", want: 8 << 50},
		{in: "", wantErr: true},
		{in: "0", wantErr: true},
		{in: "-1Gi", wantErr: true},
		{in: "1.5Gi", wantErr: true},
		{in: "1TB", wantErr: true},
		{in: "Gi", wantErr: true},
		{in: "9000000Pi", wantErr: true},
	} {
		got, err := parseSize(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %t", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
