// Command isopatch makes a Windows install ISO boot under UEFI without the "Press any key" prompt by
// overwriting its El Torito EFI boot image, in place, with efisys_noprompt.bin (the ISO's own copy, or
// the file given by --image). It rewrites only the boot image's sectors and the catalog entry.
package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/goldimage/goldimage/internal/taskresult"
	"io"
	"os"

	"github.com/goldimage/goldimage/pkg/iso"
)

func main() {
	taskresult.Exit("isopatch", run(os.Args[1:], os.Stdout))
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("isopatch", flag.ContinueOnError)
	isoPath := fs.String("iso", "", "ISO image to patch in place (required)")
	image := fs.String("image", "", "replacement EFI boot image (default: "+iso.WindowsNoPromptImage+" inside the ISO)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *isoPath == "" || fs.NArg() > 0 {
		return errors.New("usage: isopatch --iso PATH [--image PATH]")
	}
	f, err := os.OpenFile(*isoPath, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open ISO: %w", err)
	}
	defer f.Close()
	p, err := patch(f, *image)
	if err != nil {
		return fmt.Errorf("patch %s: %w", *isoPath, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", *isoPath, err)
	}
	if p.Written == 0 {
		fmt.Fprintf(out, "%s: EFI boot image at sector %d already in place, nothing written\n", *isoPath, p.LBA)
		return nil
	}
	fmt.Fprintf(out, "%s: wrote %d-byte EFI boot image at sector %d (slot %d bytes, catalog sectors %d -> %d)\n",
		*isoPath, p.Written, p.LBA, p.Slot, p.OldSectorCount, p.NewSectorCount)
	return nil
}

func patch(f *os.File, image string) (iso.Patch, error) {
	if image == "" {
		return iso.ReplaceWithWindowsNoPrompt(f)
	}
	img, err := os.Open(image)
	if err != nil {
		return iso.Patch{}, fmt.Errorf("open replacement image: %w", err)
	}
	defer img.Close()
	st, err := img.Stat()
	if err != nil {
		return iso.Patch{}, fmt.Errorf("stat replacement image: %w", err)
	}
	return iso.ReplaceEFIBootImage(f, img, st.Size())
}
