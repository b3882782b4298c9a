package convert

import (
	"bytes"
	"encoding/binary"
)

// HeaderLen is how many leading bytes Detect needs to recognize every format (ISO's volume
// descriptor sits at 32 KiB). Fewer bytes are fine for short files.
const HeaderLen = 34816

// Format is a disk image format.
type Format string

// Formats Detect recognizes.
const (
	FormatUnknown Format = ""
	FormatRaw     Format = "raw"
	FormatISO     Format = "iso"
	FormatQcow2   Format = "qcow2"
	FormatVMDK    Format = "vmdk"
	FormatVHD     Format = "vhd"
	FormatVHDX    Format = "vhdx"
)

// Detection is what Detect found in a header.
type Detection struct {
	// Compression is the wrapper, or CompressionNone; Format is then unknown until decompressed.
	Compression Compression
	// Format is the image format; raw when nothing else matched.
	Format Format
	// Subformat names a variant (VMDK "monolithicSparse"/"streamOptimized"/"descriptor", VHD "dynamic").
	Subformat string
}

// Detect recognizes a compression wrapper or, for uncompressed data, the image format.
func Detect(header []byte) Detection {
	if c := DetectCompression(header); c != CompressionNone {
		return Detection{Compression: c}
	}
	f, sub := DetectFormat(header)
	return Detection{Format: f, Subformat: sub}
}

// DetectFormat recognizes an uncompressed image format; data matching nothing is raw.
// A fixed VHD keeps its only footer at the end of the file: see IsVHDFooter.
func DetectFormat(h []byte) (Format, string) {
	switch {
	case bytes.HasPrefix(h, []byte("QFI\xfb")):
		return FormatQcow2, ""
	case bytes.HasPrefix(h, []byte("KDMV")):
		return FormatVMDK, vmdkSubformat(h)
	case bytes.HasPrefix(h, []byte("# Disk DescriptorFile")):
		return FormatVMDK, "descriptor"
	case bytes.HasPrefix(h, []byte("vhdxfile")):
		return FormatVHDX, ""
	case bytes.HasPrefix(h, []byte("conectix")):
		return FormatVHD, vhdSubformat(h)
	case len(h) >= 32774 && string(h[32769:32774]) == "CD001":
		return FormatISO, ""
	}
	return FormatRaw, ""
}

// vmdkSubformat tells streamOptimized (compressed grains) from monolithicSparse by the flags field.
func vmdkSubformat(h []byte) string {
	if len(h) < 80 {
		return ""
	}
	const compressedGrains = 1 << 16
	if binary.LittleEndian.Uint32(h[8:12])&compressedGrains != 0 || binary.LittleEndian.Uint16(h[77:79]) == 1 {
		return "streamOptimized"
	}
	return "monolithicSparse"
}

// vhdSubformat reads the disk type of a footer copy found at the start of a file.
func vhdSubformat(h []byte) string {
	if len(h) < 64 {
		return ""
	}
	switch binary.BigEndian.Uint32(h[60:64]) {
	case 2:
		return "fixed"
	case 3:
		return "dynamic"
	case 4:
		return "differencing"
	}
	return ""
}

// IsVHDFooter reports whether the 512-byte block b is the footer of a fixed VHD whose data is
// dataLen bytes long (the footer follows the data).
func IsVHDFooter(b []byte, dataLen int64) bool {
	if len(b) != 512 || !bytes.HasPrefix(b, []byte("conectix")) {
		return false
	}
	return binary.BigEndian.Uint32(b[60:64]) == 2 && int64(binary.BigEndian.Uint64(b[48:56])) == dataLen
}
