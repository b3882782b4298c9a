package binary

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/internal/testenv"
	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/cron"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

var (
	k8s        client.Client
	kubeconfig string
	binary     string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	dir, err := os.MkdirTemp("", "cron-controller-binary-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(env.Config, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binary = filepath.Join(dir, "cron-controller")
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	build := exec.Command("go", "build", "-o", binary, "./cmd/cron-controller")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build cron-controller: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// writeKubeconfig saves the admin rest.Config of the test control plane as a kubeconfig file.
func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin"}
	kc.CurrentContext = "test"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// startController runs the binary until the test ends and returns its log.
func startController(t *testing.T, args ...string) *bytes.Buffer {
	t.Helper()
	var log bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start cron-controller: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("cron-controller log:\n%s", log.String())
		}
	})
	return &log
}

func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second) // a safety net, not a timing assertion
	var state string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, state = check(); ok {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s; last state: %s", what, state)
}

// TestBinaryImportsCron runs `cron-controller` and follows one cron import, playing the kubelet's part.
func TestBinaryImportsCron(t *testing.T) {
	ctx := context.Background()
	startController(t, "--importer-image", "goldimage.local/importer:test", "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "binary"}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "binary"}}
	for _, o := range []client.Object{ns, sa} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	disk := make([]byte, 64<<10)
	_, _ = rand.Read(disk)
	digest := reg.PushDisk(t, "os/cirros:latest", disk)
	url := "docker://" + reg.Ref("os/cirros:latest")
	c := &cdiv1.DataImportCron{ObjectMeta: metav1.ObjectMeta{Name: "cirros-cron", Namespace: "binary"},
		Spec: cdiv1.DataImportCronSpec{ManagedDataSource: "cirros", Template: cdiv1.DataVolume{Spec: cdiv1.DataVolumeSpec{
			Source: &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: &url}},
			Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("64Mi")}}}}}}}
	if err := k8s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	name := cron.ImportName("cirros", digest)
	pod := &corev1.Pod{}
	eventually(t, "importer pod for "+name, func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: "binary", Name: cdiconst.ImporterPodPrefix + name}, pod)
		return err == nil, fmt.Sprint(err)
	})
	msg, _ := contract.Termination{Result: contract.ResultSuccess}.Marshal()
	pod.Status.Phase = corev1.PodSucceeded
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: cdiconst.ImporterContainer,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", Message: string(msg)}}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "DataSource cirros Ready on "+name, func() (bool, string) {
		ds := &cdiv1.DataSource{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "binary", Name: "cirros"}, ds); err != nil {
			return false, err.Error()
		}
		for _, cond := range ds.Status.Conditions {
			if cond.Type == cdiv1.DataSourceReady && cond.Status == corev1.ConditionTrue && ds.Spec.Source.PVC.Name == name {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", ds.Status)
	})
}
