package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"
)

// QcowCompression selects how WriteQcow2 compresses clusters.
type QcowCompression string

// Cluster compressions WriteQcow2 supports.
const (
	QcowUncompressed QcowCompression = ""
	QcowZlib         QcowCompression = "zlib"
	QcowZstd         QcowCompression = "zstd"
)

const (
	qcowCopied     = uint64(1) << 63
	qcowCompressed = uint64(1) << 62
	flushSize      = 4 << 20
)

// WriteQcow2 writes img to path as a qcow2 v3 image: zero clusters stay unallocated, other clusters
// are stored raw or, with WithQcow2Compression, compressed by WithWorkers goroutines. Memory is
// bounded except for 2 bytes of refcount per output cluster.
func WriteQcow2(ctx context.Context, img Image, path string, opts ...Option) (Result, error) {
	o := newOptions(opts)
	res := Result{Format: FormatQcow2, VirtualSize: img.Size()}
	if o.clusterBits < 9 || o.clusterBits > 21 {
		return res, fmt.Errorf("qcow2 cluster bits %d outside 9..21", o.clusterBits)
	}
	if o.compression != QcowUncompressed && o.compression != QcowZlib && o.compression != QcowZstd {
		return res, fmt.Errorf("unknown qcow2 compression %q", o.compression)
	}
	if img.Size() < 0 || img.Size() > o.maxVirtual {
		return res, fmt.Errorf("%w: virtual size %d outside 0..%d", ErrTooLarge, img.Size(), o.maxVirtual)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return res, fmt.Errorf("create qcow2 %s: %w", path, err)
	}
	w := newQcowWriter(f, img.Size(), o)
	err = w.run(ctx, img)
	if err == nil && o.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	res.BytesWritten = w.pos
	if err != nil {
		_ = os.Remove(path)
		return res, fmt.Errorf("write qcow2 %s: %w", path, err)
	}
	return res, nil
}

// qcowWriter lays out header, L1 table, data clusters with their L2 table reserved before them, then
// refcounts: every table comes before the clusters it maps, so the image streams (pkg/convert/qcow2stream).
type qcowWriter struct {
	f         *os.File
	o         *options
	size      int64
	cs        int64
	l2Entries int64
	l1        []uint64
	l2        []uint64
	l2Group   int64
	l2Offset  int64
	pos       int64 // next free host byte
	pending   []byte
	pendStart int64
	refs      []uint16
}

func newQcowWriter(f *os.File, size int64, o *options) *qcowWriter {
	cs := int64(1) << o.clusterBits
	l2Entries := cs / 8
	clusters := (size + cs - 1) / cs
	l1Size := max(1, (clusters+l2Entries-1)/l2Entries)
	l1Clusters := roundUp(l1Size*8, cs) / cs
	refs := make([]uint16, 1+l1Clusters) // header and L1 table
	for i := range refs {
		refs[i] = 1
	}
	return &qcowWriter{
		f: f, o: o, size: size, cs: cs, l2Entries: l2Entries,
		l1: make([]uint64, l1Size), l2: make([]uint64, l2Entries), l2Group: -1,
		pos: cs * (1 + l1Clusters), pendStart: cs * (1 + l1Clusters), refs: refs,
	}
}

// qjob is one chunk of clusters, compressed by a worker and emitted in order by the writer.
type qjob struct {
	off  int64
	data []byte   // the chunk's raw contents, padded to whole clusters
	out  [][]byte // per cluster: nil for zero, len cs for raw, shorter for compressed
	done chan struct{}
	err  error
}

func (w *qcowWriter) run(ctx context.Context, img Image) error {
	chunk := max(w.cs, 1<<20)
	work, order := make(chan *qjob), make(chan *qjob, 2*w.o.workers+2)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		defer close(order)
		for off := int64(0); off < w.size; off += chunk {
			j := &qjob{off: off, data: make([]byte, min(chunk, roundUp(w.size-off, w.cs))), done: make(chan struct{})}
			for _, c := range []chan *qjob{order, work} {
				select {
				case c <- j:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	})
	for range w.o.workers {
		g.Go(func() error {
			for j := range work {
				j.err = w.prepare(img, j)
				close(j.done)
			}
			return nil
		})
	}
	g.Go(func() error { return w.emitAll(ctx, order) })
	if err := g.Wait(); err != nil {
		return err
	}
	return w.finish()
}

func (w *qcowWriter) emitAll(ctx context.Context, order chan *qjob) error {
	for j := range order {
		select {
		case <-j.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if j.err != nil {
			return j.err
		}
		for i, out := range j.out {
			if err := w.emit((j.off+int64(i)*w.cs)/w.cs, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// prepare reads a chunk (zero extents are not read) and compresses its non-zero clusters.
func (w *qcowWriter) prepare(img Image, j *qjob) error {
	end := min(j.off+int64(len(j.data)), w.size)
	if err := readFilled(img, j.data[:end-j.off], j.off); err != nil {
		return err
	}
	for c := int64(0); c < int64(len(j.data)); c += w.cs {
		cl := j.data[c : c+w.cs]
		var out []byte
		if !IsZero(cl) {
			out = w.compress(cl)
		}
		j.out = append(j.out, out)
	}
	return nil
}

// compress returns the compressed cluster when it is smaller, else the cluster itself.
func (w *qcowWriter) compress(cl []byte) []byte {
	var out []byte
	switch w.o.compression {
	case QcowZlib:
		var b bytes.Buffer
		fw := flateWriters.Get().(*flate.Writer)
		fw.Reset(&b)
		_, _ = fw.Write(cl)
		_ = fw.Close()
		flateWriters.Put(fw)
		out = b.Bytes()
	case QcowZstd:
		out = zstdEncoder().EncodeAll(cl, nil)
	default:
		return cl
	}
	if len(out) == 0 || int64(len(out)) >= w.cs {
		return cl
	}
	return out
}

var (
	flateWriters = sync.Pool{New: func() any { fw, _ := flate.NewWriter(nil, flate.DefaultCompression); return fw }}
	zstdEncoder  = sync.OnceValue(func() *zstd.Encoder {
		e, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
		return e
	})
)

// emit places one virtual cluster's output and records it in the L2 table.
func (w *qcowWriter) emit(cluster int64, out []byte) error {
	if out == nil {
		return nil
	}
	if g := cluster / w.l2Entries; g != w.l2Group {
		if err := w.flushL2(); err != nil {
			return err
		}
		w.l2Group = g
		w.l2Offset = w.reserve(w.cs, true)
		w.addRef(w.l2Offset)
	}
	var entry uint64
	if int64(len(out)) == w.cs {
		off := w.reserve(w.cs, true)
		entry = uint64(off) | qcowCopied
		copy(w.pending[off-w.pendStart:], out)
		w.addRef(off)
	} else {
		off := w.reserve(int64(len(out)), w.pos%w.cs+int64(len(out)) > w.cs)
		copy(w.pending[off-w.pendStart:], out)
		sectors := uint64((off+int64(len(out))-1)>>9 - off>>9)
		entry = qcowCompressed | sectors<<(62-(w.o.clusterBits-8)) | uint64(off)
		w.addRef(off)
	}
	w.l2[cluster%w.l2Entries] = entry
	if int64(len(w.pending)) >= flushSize {
		return w.flushPending()
	}
	return nil
}

// reserve allocates n host bytes (cluster aligned when asked) inside the pending buffer.
func (w *qcowWriter) reserve(n int64, align bool) int64 {
	if align {
		w.pos = roundUp(w.pos, w.cs)
	}
	off := w.pos
	w.pos += n
	if grow := w.pos - w.pendStart - int64(len(w.pending)); grow > 0 {
		w.pending = append(w.pending, make([]byte, grow)...)
	}
	return off
}

// addRef counts one more reference to the host cluster holding off.
func (w *qcowWriter) addRef(off int64) {
	c := off / w.cs
	for int64(len(w.refs)) <= c {
		w.refs = append(w.refs, 0)
	}
	w.refs[c]++
}

func (w *qcowWriter) flushPending() error {
	if _, err := w.f.WriteAt(w.pending, w.pendStart); err != nil {
		return fmt.Errorf("write data at %d: %w", w.pendStart, err)
	}
	w.pendStart += int64(len(w.pending))
	w.pending = w.pending[:0]
	return nil
}

// flushL2 writes the current L2 table to the cluster reserved for it and points L1 at it.
func (w *qcowWriter) flushL2() error {
	if w.l2Group < 0 {
		return nil
	}
	if err := w.flushPending(); err != nil {
		return err
	}
	if err := w.writeTable(w.l2, w.l2Offset); err != nil {
		return err
	}
	w.l1[w.l2Group] = uint64(w.l2Offset) | qcowCopied
	clear(w.l2)
	w.l2Group = -1
	return nil
}

func (w *qcowWriter) writeTable(entries []uint64, off int64) error {
	b := make([]byte, roundUp(int64(len(entries))*8, w.cs))
	for i, e := range entries {
		binary.BigEndian.PutUint64(b[i*8:], e)
	}
	if _, err := w.f.WriteAt(b, off); err != nil {
		return fmt.Errorf("write table at %d: %w", off, err)
	}
	return nil
}

// finish writes the L1 table into the clusters reserved after the header, the refcount blocks and
// table after the data, and the header.
func (w *qcowWriter) finish() error {
	if err := w.flushL2(); err != nil {
		return err
	}
	if err := w.flushPending(); err != nil {
		return err
	}
	l1Off := w.cs
	if err := w.writeTable(w.l1, l1Off); err != nil {
		return err
	}
	rtOff, rtClusters, err := w.writeRefcounts(roundUp(w.pos, w.cs))
	if err != nil {
		return err
	}
	w.pos = rtOff + rtClusters*w.cs
	return w.writeHeader(l1Off, rtOff, rtClusters)
}

// writeRefcounts sizes the refcount blocks and table so they also count themselves, then writes them at off.
func (w *qcowWriter) writeRefcounts(off int64) (int64, int64, error) {
	perBlock := w.cs / 2
	used := off / w.cs
	var blocks, tableClusters int64
	for {
		total := used + blocks + tableClusters
		b := (total + perBlock - 1) / perBlock
		t := roundUp(b*8, w.cs) / w.cs
		if b == blocks && t == tableClusters {
			break
		}
		blocks, tableClusters = b, t
	}
	for c := used; c < used+blocks+tableClusters; c++ {
		w.addRef(c * w.cs)
	}
	table := make([]uint64, blocks)
	block := make([]byte, w.cs)
	for b := range blocks {
		clear(block)
		for i := int64(0); i < perBlock && b*perBlock+i < int64(len(w.refs)); i++ {
			binary.BigEndian.PutUint16(block[i*2:], w.refs[b*perBlock+i])
		}
		table[b] = uint64(off + b*w.cs)
		if _, err := w.f.WriteAt(block, off+b*w.cs); err != nil {
			return 0, 0, fmt.Errorf("write refcount block: %w", err)
		}
	}
	tableOff := off + blocks*w.cs
	return tableOff, tableClusters, w.writeTable(table, tableOff)
}

func (w *qcowWriter) writeHeader(l1Off, rtOff, rtClusters int64) error {
	h := make([]byte, 112)
	be := binary.BigEndian
	copy(h, "QFI\xfb")
	be.PutUint32(h[4:], 3)
	be.PutUint32(h[20:], uint32(w.o.clusterBits))
	be.PutUint64(h[24:], uint64(w.size))
	be.PutUint32(h[36:], uint32(len(w.l1)))
	be.PutUint64(h[40:], uint64(l1Off))
	be.PutUint64(h[48:], uint64(rtOff))
	be.PutUint32(h[56:], uint32(rtClusters))
	be.PutUint32(h[96:], 4) // refcount order: 16-bit refcounts
	be.PutUint32(h[100:], 104)
	if w.o.compression == QcowZstd {
		be.PutUint64(h[72:], 1<<3) // incompatible feature: compression type
		be.PutUint32(h[100:], 112)
		h[104] = 1
	}
	if _, err := w.f.WriteAt(h, 0); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	return nil
}

// readFilled fills p with img's contents at off, clearing zero extents instead of reading them.
func readFilled(img Image, p []byte, off int64) error {
	for done := int64(0); done < int64(len(p)); {
		ext, err := img.Extent(off+done, int64(len(p))-done)
		if err != nil {
			return fmt.Errorf("map %s extent at %d: %w", img.Type(), off+done, err)
		}
		n := min(ext.Length, int64(len(p))-done)
		if n <= 0 {
			return corruptf("%s extent at %d has length %d", img.Type(), off+done, ext.Length)
		}
		part := p[done : done+n]
		if ext.Zero {
			clear(part)
		} else if k, err := img.ReadAt(part, off+done); k < len(part) {
			return fmt.Errorf("read %s at %d: %w", img.Type(), off+done, orCorrupt(err, img))
		}
		done += n
	}
	return nil
}

func orCorrupt(err error, img Image) error {
	if err == nil || errors.Is(err, io.EOF) {
		return corruptf("%s data ends before its virtual size", img.Type())
	}
	return err
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }
