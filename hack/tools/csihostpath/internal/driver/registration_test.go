package driver

import (
	"context"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// TestRegistrar plays the kubelet's plugin watcher against the registration service.
func TestRegistrar(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "hostpath.csi.goldimage.io-reg.sock")
	lis, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	statuses := make(chan error, 2)
	srv := grpc.NewServer()
	registerapi.RegisterRegistrationServer(srv, &Registrar{
		Name:     "hostpath.csi.goldimage.io",
		Endpoint: "/var/lib/kubelet/plugins/hostpath.csi.goldimage.io/csi.sock",
		OnStatus: func(err error) { statuses <- err },
	})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := registerapi.NewRegistrationClient(conn)
	ctx := context.Background()
	info, err := c.GetInfo(ctx, &registerapi.InfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != registerapi.CSIPlugin || info.Name != "hostpath.csi.goldimage.io" ||
		info.Endpoint != "/var/lib/kubelet/plugins/hostpath.csi.goldimage.io/csi.sock" ||
		len(info.SupportedVersions) != 1 || info.SupportedVersions[0] != "1.0.0" {
		t.Errorf("GetInfo = %+v", info)
	}
	if _, err := c.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{PluginRegistered: true}); err != nil {
		t.Fatal(err)
	}
	if err := <-statuses; err != nil {
		t.Errorf("successful registration reported %v", err)
	}
	if _, err := c.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{Error: "version mismatch"}); err != nil {
		t.Fatal(err)
	}
	if err := <-statuses; err == nil {
		t.Error("refused registration reported no error")
	}

	// A stale socket from a previous run is replaced.
	srv.Stop()
	lis2, err := ListenUnix(sock)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	lis2.Close()
}
