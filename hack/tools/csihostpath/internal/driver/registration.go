package driver

import (
	"context"

	"k8s.io/klog/v2"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// Registrar answers the kubelet's plugin watcher on the registration socket,
// doing what node-driver-registrar does for other CSI drivers.
type Registrar struct {
	registerapi.UnimplementedRegistrationServer

	// Name is the CSI driver name.
	Name string
	// Endpoint is the CSI socket's path as the kubelet sees it (on the host).
	Endpoint string
	// OnStatus, if set, is called with the kubelet's registration outcome
	// (nil error on success).
	OnStatus func(err error)
}

// GetInfo tells the kubelet this is a CSI plugin, its name and its socket.
func (r *Registrar) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	klog.InfoS("Kubelet asked for plugin info", "name", r.Name, "endpoint", r.Endpoint)
	return &registerapi.PluginInfo{
		Type:              registerapi.CSIPlugin,
		Name:              r.Name,
		Endpoint:          r.Endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

// NotifyRegistrationStatus logs the kubelet's registration outcome.
func (r *Registrar) NotifyRegistrationStatus(_ context.Context, st *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	var err error
	if st.GetPluginRegistered() {
		klog.InfoS("Kubelet registered the plugin", "name", r.Name)
	} else {
		err = registrationError(st.GetError())
		klog.ErrorS(err, "Kubelet did not register the plugin", "name", r.Name)
	}
	if r.OnStatus != nil {
		r.OnStatus(err)
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}

// registrationError is the kubelet's reason for refusing a registration.
type registrationError string

func (e registrationError) Error() string { return "kubelet refused registration: " + string(e) }
