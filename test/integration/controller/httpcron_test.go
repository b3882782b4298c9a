package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/cron"
)

// imageServer serves /disk.img with an ETag the test changes by replacing the file, and /SHA256SUMS listing it.
type imageServer struct {
	mu       sync.Mutex
	body     string
	etag     string // "" with perHit false: no validator at all
	perHit   bool   // a new ETag on every request
	hits     int
	methods  map[string]int
	checksum string // sha256 hex the SHA256SUMS file lists for disk.img
}

func (s *imageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/SHA256SUMS" {
		fmt.Fprintf(w, "%s  other.img\n%s  disk.img\n", strings.Repeat("0", 64), s.checksum)
		return
	}
	s.hits++
	s.methods[r.Method]++
	etag := s.etag
	if s.perHit {
		etag = fmt.Sprintf(`"hit-%d"`, s.hits)
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	_, _ = w.Write([]byte(s.body))
}

// replace swaps the served file for body, with a new ETag and checksum.
func (s *imageServer) replace(body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256([]byte(body))
	s.body, s.checksum, s.etag = body, hex.EncodeToString(sum[:]), `"`+hex.EncodeToString(sum[:8])+`"`
}

func (s *imageServer) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.methods[method]
}

func startImageServer(t *testing.T, s *imageServer) string {
	s.methods = map[string]int{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newHTTPCron(ns, source, url string, keep int32) *cdiv1.DataImportCron {
	c := newCron(ns, source, "docker://unused", keep)
	c.Spec.Template.Spec.Source = &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: url}}
	return c
}

// TestHTTPCron follows an http(s) cron: a first import named after the validator and verified against the
// checksum file, an unchanged poll that creates nothing, a replaced file imported and the old import collected.
func TestHTTPCron(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "httpcron")
	srv := &imageServer{}
	srv.replace("disk one")
	base := startImageServer(t, srv)
	url := base + "/disk.img"
	const source = "debian"
	c := newHTTPCron(ns, source, url, 1)
	c.Annotations = map[string]string{cdiconst.AnnChecksumURL: base + "/SHA256SUMS"}
	create(t, c)

	v1 := cron.HTTPVersion(url, cron.Validator{ETag: srv.etag})
	dv1 := dvName(source, v1)
	dv := waitDataVolume(t, ns, dv1)
	wantSum := "sha256:" + srv.checksum
	if dv.Spec.Source.HTTP == nil || dv.Spec.Source.HTTP.URL != url || dv.Annotations[cdiconst.AnnChecksum] != wantSum {
		t.Errorf("DataVolume %s source %+v annotations %v, want %s with checksum %s", dv1, dv.Spec.Source, dv.Annotations, url, wantSum)
	}
	env := podEnv(waitPod(t, ns, dv1))
	if env[contract.EnvSource] != "http" || env[contract.EnvEndpoint] != url || env[contract.EnvChecksum] != wantSum {
		t.Errorf("importer env %v, want http %s with %s=%s", env, url, contract.EnvChecksum, wantSum)
	}
	importOK(t, ns, dv1)
	waitDataSource(t, ns, source, dv1)

	forcePollHandled(t, ns, c.Name)
	if n := cronDataVolumes(t, ns, c.Name); n != 1 {
		t.Errorf("an unchanged file made %d DataVolumes, want 1", n)
	}

	srv.replace("disk two")
	forcePoll(t, ns, c.Name)
	dv2 := dvName(source, cron.HTTPVersion(url, cron.Validator{ETag: srv.etag}))
	dv = waitDataVolume(t, ns, dv2)
	if dv.Annotations[cdiconst.AnnChecksum] != "sha256:"+srv.checksum {
		t.Errorf("DataVolume %s checksum %q, want the new file's sha256:%s", dv2, dv.Annotations[cdiconst.AnnChecksum], srv.checksum)
	}
	waitDataSource(t, ns, source, dv1) // stays until the new import is verified
	importOK(t, ns, dv2)
	waitDataSource(t, ns, source, dv2)
	eventually(t, "garbage collection of "+dv1, func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: dv1}, &cdiv1.DataVolume{})
		return apierrors.IsNotFound(err), "DataVolume still there"
	})
	if got := srv.count(http.MethodGet); got != 0 {
		t.Errorf("polls downloaded the file %d times (GET), want HEAD only", got)
	}
}

// TestHTTPCronBadValidators checks that servers which cannot say when their file changes get a condition
// and an event naming the problem, and no import.
func TestHTTPCronBadValidators(t *testing.T) {
	for _, tc := range []struct {
		name   string
		srv    *imageServer
		reason string
	}{
		{"none", &imageServer{body: "x"}, cdiconst.ReasonNoValidator},
		{"unstable", &imageServer{body: "x", perHit: true}, cdiconst.ReasonUnstableValidator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := namespace(t, "httpbad")
			url := startImageServer(t, tc.srv) + "/disk.img"
			c := newHTTPCron(ns, "bad", url, 1)
			create(t, c)
			waitCron(t, ns, c.Name, "UpToDate "+tc.reason, func(c *cdiv1.DataImportCron) bool {
				up := cronCondition(c, cdiv1.DataImportCronUpToDate)
				return up.Status == corev1.ConditionFalse && up.Reason == tc.reason && strings.Contains(up.Message, "disk.img")
			})
			waitEvent(t, ns, "DataImportCron", c.Name, corev1.EventTypeWarning, "cannot be detected")
			forcePollHandled(t, ns, c.Name)
			got := waitCron(t, ns, c.Name, "UpToDate still "+tc.reason, func(c *cdiv1.DataImportCron) bool {
				return cronCondition(c, cdiv1.DataImportCronUpToDate).Reason == tc.reason
			})
			if n := cronDataVolumes(t, ns, c.Name); n != 0 || got.Annotations[cdiconst.AnnSourceDesiredDigest] != "" {
				t.Errorf("%d DataVolumes, desired version %q: want no import", n, got.Annotations[cdiconst.AnnSourceDesiredDigest])
			}
		})
	}
}

// forcePollHandled forces a poll and waits until the cron recorded that it acted on it.
func forcePollHandled(t *testing.T, ns, name string) {
	t.Helper()
	forcePoll(t, ns, name)
	waitCron(t, ns, name, "forced poll handled", func(c *cdiv1.DataImportCron) bool {
		return c.Annotations[cdiconst.AnnHandledRequest] == c.Annotations[cdiconst.AnnReconcileRequest]+"|"+c.Annotations[cdiconst.AnnLastCronTime]
	})
}

func cronDataVolumes(t *testing.T, ns, cronName string) int {
	t.Helper()
	var list cdiv1.DataVolumeList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{cdiconst.LabelDataImportCron: cronName}); err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

func podEnv(pod *corev1.Pod) map[string]string {
	env := map[string]string{}
	for _, e := range pod.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	return env
}

// TestHTTPCronChecksumRepublished checks that a forced poll after a failed import rereads the checksum file, so an
// image whose SHA256SUMS was published late is imported with the corrected sum.
func TestHTTPCronChecksumRepublished(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "httpsum")
	srv := &imageServer{}
	srv.replace("disk one")
	good := srv.checksum
	srv.checksum = strings.Repeat("f", 64) // stale SHA256SUMS
	base := startImageServer(t, srv)
	c := newHTTPCron(ns, "sums", base+"/disk.img", 1)
	c.Annotations = map[string]string{cdiconst.AnnChecksumURL: base + "/SHA256SUMS"}
	create(t, c)
	name := dvName("sums", cron.HTTPVersion(base+"/disk.img", cron.Validator{ETag: srv.etag}))
	first := waitDataVolume(t, ns, name)
	if first.Annotations[cdiconst.AnnChecksum] != "sha256:"+strings.Repeat("f", 64) {
		t.Fatalf("first import checksum %q", first.Annotations[cdiconst.AnnChecksum])
	}
	finishPod(t, waitPod(t, ns, name), contract.ExitFatal, contract.Termination{Result: contract.ResultFailure, Message: "checksum mismatch"})
	waitPhase(t, ns, name, cdiv1.Failed)

	srv.mu.Lock()
	srv.checksum = good
	srv.mu.Unlock()
	forcePoll(t, ns, c.Name)
	eventually(t, "the retried import with the republished checksum", func() (bool, string) {
		dv := &cdiv1.DataVolume{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, dv); err != nil {
			return false, err.Error()
		}
		return dv.UID != first.UID && dv.Annotations[cdiconst.AnnChecksum] == "sha256:"+good, fmt.Sprintf("uid %s checksum %s", dv.UID, dv.Annotations[cdiconst.AnnChecksum])
	})
}
