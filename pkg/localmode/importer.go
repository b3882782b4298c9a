package localmode

import (
	"context"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/importer"
)

// InProcess returns the Importer of cron-controller --local: pkg/importer run in this process, spilling
// stream sources of random-access formats under scratch.
func InProcess(scratch string) Importer { return inProcess{scratch: scratch} }

type inProcess struct{ scratch string }

func (i inProcess) Import(ctx context.Context, source, dest string, auth Auth) (contract.Termination, error) {
	return importer.Run(ctx, importer.Config{Source: source, Dest: dest, ScratchDir: i.scratch,
		User: auth.User, Password: auth.Password, CertDir: auth.CertDir, Checksum: auth.Checksum, Headers: auth.Headers})
}
