package registrytest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url string, set func(*http.Request)) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if set != nil {
		set(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestBearerFlow(t *testing.T) {
	s := New(t)
	resp := get(t, "http://"+s.Host+"/v2/", nil)
	if want := `realm="http://` + s.Host + `/token"`; resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), want) {
		t.Fatalf("ping: %d %q; want 401 with %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
	}
	if resp := get(t, "http://"+s.Host+"/token", func(r *http.Request) { r.SetBasicAuth(s.Username, "wrong") }); resp.StatusCode != 401 {
		t.Errorf("token with a wrong password: %d, want 401", resp.StatusCode)
	}
	resp = get(t, "http://"+s.Host+"/token", func(r *http.Request) { r.SetBasicAuth(s.Username, s.Password) })
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %v %+v", err, tok)
	}
	if resp := get(t, "http://"+s.Host+"/v2/", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok.Token) }); resp.StatusCode != 200 {
		t.Errorf("ping with the token: %d, want 200", resp.StatusCode)
	}
	if n := s.Count("GET", KindToken); n != 2 {
		t.Errorf("counted %d token requests, want 2", n)
	}
}

func TestBasicAndFaults(t *testing.T) {
	s := New(t, WithAuth(Basic), WithCredentials("u", "p"))
	if resp := get(t, "http://"+s.Host+"/v2/", nil); resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("ping without credentials: %d %q; want a basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	s.Fail(KindPing, 1, 429, "2")
	auth := func(r *http.Request) { r.SetBasicAuth("u", "p") }
	if resp := get(t, "http://"+s.Host+"/v2/", auth); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("injected fault: %d, Retry-After %q; want 429 and 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := get(t, "http://"+s.Host+"/v2/", auth); resp.StatusCode != 200 {
		t.Errorf("after the fault: %d, want 200", resp.StatusCode)
	}
	s.Reset()
	if n := s.Count("GET", KindPing); n != 0 {
		t.Errorf("count after Reset = %d", n)
	}
}
