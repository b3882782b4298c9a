package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// OpenRegistry streams the disk file of the containerDisk docker://REF, searching layers from the top.
// The digest is the manifest digest; labels come from the KUBEVIRT_IO_* environment of the image config.
func OpenRegistry(ctx context.Context, rawURL string, opts ...Option) (*Image, error) {
	o := newOptions(opts)
	ref, err := name.ParseReference(strings.TrimPrefix(rawURL, "docker://"), name.WeakValidation)
	if err != nil {
		return nil, Fatal(fmt.Errorf("parse image reference %q: %w", rawURL, err))
	}
	rt, err := o.httpTransport()
	if err != nil {
		return nil, err
	}
	auth := authn.Anonymous
	if o.user != "" {
		auth = &authn.Basic{Username: o.user, Password: o.pass}
	}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(rt),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
	if err != nil {
		return nil, registryError(ref.String(), err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, registryError(ref.String(), err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, registryError(ref.String(), err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, registryError(ref.String(), err)
	}
	for i := len(layers) - 1; i >= 0; i-- {
		rc, err := layers[i].Compressed()
		if err != nil {
			return nil, registryError(ref.String(), err)
		}
		disk, closeFn, err := FindDisk(rc)
		if errors.Is(err, ErrNoDisk) {
			rc.Close()
			continue
		}
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("containerDisk %s: %w", ref, err)
		}
		body := readCloser{Reader: io.LimitReader(disk.Reader, disk.Size), close: func() { closeFn(); rc.Close() }}
		return NewStream(ref.Name()+" "+disk.Name, disk.Size, digest.String(), KubevirtLabels(cfg.Config.Env), body), nil
	}
	return nil, Fatal(fmt.Errorf("containerDisk %s: %w", ref, ErrNoDisk))
}

// registryError names the image and marks missing images and denied access as fatal.
func registryError(ref string, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusNotFound:
			return Fatal(fmt.Errorf("image %s not found: %w", ref, err))
		case http.StatusUnauthorized, http.StatusForbidden:
			return Fatal(fmt.Errorf("access to image %s denied, check the credentials: %w", ref, err))
		}
	}
	return fmt.Errorf("pull %s: %w", ref, err)
}
