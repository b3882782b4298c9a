package cron

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCredentialsFrom(t *testing.T) {
	sec := &corev1.Secret{Data: map[string][]byte{SecretKeyID: []byte("u"), SecretKey: []byte("p"), "other": []byte("x")}}
	cm := &corev1.ConfigMap{Data: map[string]string{"b.crt": "B", "a.pem": "A"}}
	for _, tc := range []struct {
		name string
		sec  *corev1.Secret
		cm   *corev1.ConfigMap
		want Credentials
	}{
		{"none", nil, nil, Credentials{}},
		{"secret", sec, nil, Credentials{Username: "u", Password: "p"}},
		{"ConfigMap values in key order", nil, cm, Credentials{CACerts: "A\nB\n"}},
		{"both", sec, cm, Credentials{Username: "u", Password: "p", CACerts: "A\nB\n"}},
		{"empty ConfigMap", nil, &corev1.ConfigMap{}, Credentials{}},
	} {
		if got := CredentialsFrom(tc.sec, tc.cm); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
