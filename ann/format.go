package ann

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"pinrec"
)

// The graph section of an "hnsw" index file (the Data of its pinrec.Extension), version 2.
// All integers are little-endian uint32 unless said otherwise, floats little-endian float32:
//
//	magic    "HNSW"
//	version  2
//	dim, M, efConstruction, efSearch, rerank
//	calibration (version 2 only; see [Calibration]): target float64, recall float64,
//	         efSearch, queries, items (queries 0: not measured, and the rest zero)
//	codec    uint8 kind (0 none, 1 sq8, 2 pca512-sq8), pdim
//	         pca512-sq8 only: mean [dim], proj [pdim×dim] (row-major)
//	         sq8 and pca512-sq8: lo [pdim], step [pdim]
//	n        nodes (deleted ones included)
//	entry    entry node (0xFFFFFFFF when n == 0), top (its level)
//	levels   [n]uint8
//	rows     [n] row of the node's item in the exact index (0xFFFFFFFF: deleted node)
//	links0   [n×(2M+1)]: per node its level-0 neighbour count, then 2M slots
//	upper    per node of level L > 0, in node order: [L×(M+1)] (level 1 first)
//	codes    [n×codeSize] bytes (none: float32 dim values; sq8: pdim bytes;
//	         pca512-sq8: pdim bytes then the float32 squared norm the projection drops)
//
// The section is untrusted input: [Unmarshal] checks every size against the bytes left
// before allocating, and every link, level, row and parameter, and refuses what fails with an
// error wrapping [ErrCorrupt]. Version 1 sections (no calibration) still load.
const formatVersion = 2

var magic = [4]byte{'H', 'N', 'S', 'W'}

// maxDim bounds the dimension a file may declare (pinrec's own files bound it by their size).
const maxDim = 1 << 16

// Marshal returns the graph section for a's current state. Nodes record the rows of their
// items in the exact index (a.Exact().IDs() order), so the section must be saved together
// with that index.
func (a *Index) Marshal() []byte {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.marshal()
}

func (a *Index) marshal() []byte {
	g := a.g
	if g == nil { // an index from New that never had an item: an empty sq8 graph
		kind, _ := parseCodec(a.cfg.codec)
		g = newGraph(&codec{kind: kind, dim: a.ix.Dim()}, a.cfg.m, a.cfg.efc) // pdim 0: untrained
	}
	cd := g.cd
	b := make([]byte, 0, 64+len(g.codes)+4*len(g.links0)+4*len(g.narrow)+5*g.n+4*(len(cd.mean)+len(cd.proj)+2*len(cd.lo)))
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	f32s := func(v []float32) {
		for _, x := range v {
			u32(math.Float32bits(x))
		}
	}
	b = append(b, magic[:]...)
	u32(formatVersion)
	for _, v := range []int{a.ix.Dim(), a.cfg.m, a.cfg.efc, a.cfg.efs, a.cfg.rerank} {
		u32(uint32(v))
	}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(a.cal.Target))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(a.cal.Recall))
	for _, v := range []int{a.cal.EfSearch, a.cal.Queries, a.cal.Items} {
		u32(uint32(v))
	}
	b = append(b, byte(cd.kind))
	u32(uint32(cd.pdim))
	if cd.kind == kindPCASQ8 {
		f32s(cd.mean)
		f32s(cd.proj)
	}
	if cd.kind != kindNone {
		f32s(cd.lo)
		f32s(cd.step)
	}
	u32(uint32(g.n))
	u32(g.entry)
	u32(uint32(g.top))
	b = append(b, g.levels...)
	row := make(map[string]uint32, a.ix.Len())
	for r, id := range a.ix.IDs() {
		row[id] = uint32(r)
	}
	for i := 0; i < g.n; i++ {
		r, ok := row[a.ids[i]]
		if a.ids[i] == "" || !ok {
			r = none
		}
		u32(r)
	}
	for _, v := range g.links0 {
		u32(v)
	}
	for _, v := range g.narrow { // the file's slots are 32-bit either way
		u32(uint32(v))
	}
	for i := 0; i < g.n; i++ {
		if l := int(g.levels[i]); l > 0 {
			for _, v := range g.upper[g.upperOff[i]:][:l*(g.m+1)] {
				u32(v)
			}
		}
	}
	switch {
	case cd.kind == kindNone && !littleEndian:
		f32s(floats(g.codes))
	case g.cs == cd.codeSize():
		b = append(b, g.codes...)
	default: // the codes without the norms after them in RAM
		for i := 0; i < g.n; i++ {
			b = append(b, g.code(uint32(i))[:cd.codeSize()]...)
		}
	}
	return b
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// decoder reads the section, failing once with ErrCorrupt.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrCorrupt)
	}
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("%s: %d bytes needed, %d left", what, n, len(d.b))
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) u32(what string) int {
	s := d.take(4, what)
	if s == nil {
		return 0
	}
	return int(binary.LittleEndian.Uint32(s))
}

// f32s reads n finite floats (n bounded by the bytes left before allocating).
func (d *decoder) f32s(n int, what string) []float32 {
	if d.err == nil && (n < 0 || n > len(d.b)/4) {
		d.fail("%s: %d values, %d bytes left", what, n, len(d.b))
	}
	s := d.take(4*n, what)
	if s == nil {
		return nil
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(s[4*i:]))
		if math.IsNaN(float64(v[i])) || math.IsInf(float64(v[i]), 0) {
			d.fail("%s: value %d is %v", what, i, v[i])
			return nil
		}
	}
	return v
}

// Unmarshal rebuilds an Index from a graph section and the exact index it was saved with,
// which the Index then owns. Loading options of the section (efSearch, rerank) can be
// overridden by opts ([WithEfSearch], [WithRerank], [WithWorkers]); the graph's own (M,
// efConstruction, codec) cannot. A malformed section gives an error wrapping [ErrCorrupt];
// nothing is kept of it.
func Unmarshal(data []byte, ix *pinrec.Index, opts ...Option) (*Index, error) {
	a, err := unmarshal(data, ix, opts)
	if err != nil {
		return nil, fmt.Errorf("ann: graph section: %w", err)
	}
	return a, nil
}

func unmarshal(data []byte, ix *pinrec.Index, opts []Option) (*Index, error) {
	d := &decoder{b: data}
	if m := d.take(4, "magic"); m != nil && string(m) != string(magic[:]) {
		d.fail("magic %q", m)
	}
	version := d.u32("version")
	if d.err == nil && (version < 1 || version > formatVersion) {
		d.fail("version %d (this build reads 1 to %d)", version, formatVersion)
	}
	dim, m, efc, efs, rerank := d.u32("dim"), d.u32("M"), d.u32("efConstruction"), d.u32("efSearch"), d.u32("rerank")
	var cal Calibration
	if version >= 2 {
		tr := d.take(16, "calibration")
		cal.EfSearch, cal.Queries, cal.Items = d.u32("calibration efSearch"), d.u32("calibration queries"), d.u32("calibration items")
		if d.err == nil {
			cal.Target = math.Float64frombits(binary.LittleEndian.Uint64(tr))
			cal.Recall = math.Float64frombits(binary.LittleEndian.Uint64(tr[8:]))
			switch {
			case !(cal.Target >= 0 && cal.Target <= 1) || !(cal.Recall >= 0 && cal.Recall <= 1):
				d.fail("calibration target %v recall %v out of 0..1", cal.Target, cal.Recall)
			case cal.Queries == 0 && cal != (Calibration{Target: cal.Target}):
				d.fail("calibration without queries: %+v", cal)
			case cal.Queries > 0 && (cal.EfSearch < 1 || cal.EfSearch > MaxEf || cal.Queries > cal.Items):
				d.fail("calibration efSearch %d, %d queries of %d items", cal.EfSearch, cal.Queries, cal.Items)
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if dim != ix.Dim() || dim > maxDim {
		d.fail("dimension %d, exact index %d", dim, ix.Dim())
	}
	if m < 2 || m > MaxM || efc < 1 || efc > MaxEf || efs < 1 || efs > MaxEf || rerank > MaxEf {
		d.fail("parameters M=%d efConstruction=%d efSearch=%d rerank=%d out of range", m, efc, efs, rerank)
	}
	kb := d.take(1, "codec")
	pdim := d.u32("pdim")
	if d.err != nil {
		return nil, d.err
	}
	cd := &codec{kind: codecKind(kb[0]), dim: dim, pdim: pdim}
	untrained := pdim == 0 && cd.kind <= kindPCASQ8 // saved before the first Add
	switch {
	case untrained:
	case cd.kind == kindNone || cd.kind == kindSQ8:
		if pdim != dim {
			d.fail("codec %s with pdim %d, dim %d", cd.kind, pdim, dim)
		}
	case cd.kind == kindPCASQ8:
		if pdim != min(pcaDim, dim) {
			d.fail("codec %s with pdim %d, dim %d", cd.kind, pdim, dim)
		}
		cd.mean = d.f32s(dim, "mean")
		cd.proj = d.f32s(pdim*dim, "projection")
	default:
		d.fail("codec kind %d", kb[0])
	}
	if d.err == nil && cd.kind != kindNone && !untrained {
		cd.lo = d.f32s(pdim, "lo")
		cd.step = d.f32s(pdim, "step")
		for t, s := range cd.step {
			if !(s > 0) {
				d.fail("step %d is %v", t, s)
				break
			}
		}
		if d.err == nil {
			cd.derive()
		}
	}
	n, entry, top := d.u32("nodes"), uint32(d.u32("entry")), d.u32("top")
	if d.err != nil {
		return nil, d.err
	}
	g := newGraph(cd, m, efc)
	m0 := 2 * m
	cs := cd.codeSize()
	perNode := 1 + 4 + 4*(m0+1) + cs // the least bytes a node takes
	if n > len(d.b)/perNode {
		return nil, fmt.Errorf("%d nodes need at least %d bytes, %d left: %w", n, n*perNode, len(d.b), ErrCorrupt)
	}
	if untrained && n != 0 {
		return nil, fmt.Errorf("untrained codec with %d nodes: %w", n, ErrCorrupt)
	}
	if n == 0 && (entry != none || top != 0) || n > 0 && (entry >= uint32(n) || top > maxLevel) {
		return nil, fmt.Errorf("entry %d top %d for %d nodes: %w", entry, top, n, ErrCorrupt)
	}
	g.grow(n)
	g.entry, g.top = entry, top
	copy(g.levels, d.take(n, "levels"))
	rowsRaw := d.take(4*n, "rows")
	links := d.take(4*n*(m0+1), "level-0 links")
	if d.err != nil {
		return nil, d.err
	}
	for i := range g.links0 {
		g.links0[i] = binary.LittleEndian.Uint32(links[4*i:])
	}
	for i := 0; i < n; i++ {
		l := int(g.levels[i])
		if l > maxLevel {
			return nil, fmt.Errorf("node %d: level %d: %w", i, l, ErrCorrupt)
		}
		if l > 0 {
			u := d.take(4*l*(m+1), "upper links")
			if u == nil {
				return nil, d.err
			}
			g.setLevel(uint32(i), l)
			dst := g.upper[g.upperOff[i]:][:l*(m+1)]
			for j := range dst {
				dst[j] = binary.LittleEndian.Uint32(u[4*j:])
			}
		}
	}
	codes := d.take(n*cs, "codes")
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the codes: %w", len(d.b), ErrCorrupt)
	}
	if g.cs == cs {
		copy(g.codes, codes)
	} else {
		for i := 0; i < n; i++ {
			copy(g.code(uint32(i)), codes[i*cs:(i+1)*cs])
		}
	}
	if cd.kind == kindNone && !littleEndian {
		f := floats(g.codes)
		for i := range f {
			f[i] = math.Float32frombits(binary.LittleEndian.Uint32(codes[4*i:]))
		}
	}
	if err := g.check(); err != nil {
		return nil, err
	}
	if !untrained {
		// The norms are not stored: computing them is the largest part of a load's CPU (2048
		// multiplications a node), so every CPU takes a share.
		parallelRange(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				cd.setNorm(g.code(uint32(i)))
			}
		})
	}

	cfg, err := newConfig(append([]Option{WithM(m), WithEfConstruction(efc), WithEfSearch(efs), WithRerank(rerank)}, opts...))
	if err != nil {
		return nil, err
	}
	cfg.m, cfg.efc, cfg.codec = m, efc, cd.kind.String()
	a := &Index{ix: ix, g: g, cfg: cfg, ids: make([]string, n),
		rng: rand.New(rand.NewPCG(cfg.seed, uint64(n))), cal: cal}
	a.node.Reset(ix.Len())
	ids := ix.IDs()
	for i := 0; i < n; i++ {
		r := binary.LittleEndian.Uint32(rowsRaw[4*i:])
		if r == none {
			g.dead[i] = true
			continue
		}
		if r >= uint32(len(ids)) {
			return nil, fmt.Errorf("node %d: row %d of %d: %w", i, r, len(ids), ErrCorrupt)
		}
		id := ids[r]
		a.ids[i] = id
		if !a.node.Add(id, i, a.ids) {
			return nil, fmt.Errorf("node %d: row %d used twice: %w", i, r, ErrCorrupt)
		}
	}
	if a.node.Len() != len(ids) {
		return nil, fmt.Errorf("%d live nodes for %d items: %w", a.node.Len(), len(ids), ErrCorrupt)
	}
	if untrained {
		a.g = nil // the first Add trains
	} else {
		g.narrowLinks()
	}
	return a, nil
}

// check verifies the graph's invariants: levels, the entry's level, link counts and targets
// (in range, not the node itself, of a level that has the link's level), finite codes.
func (g *graph) check() error {
	if g.n > 0 && int(g.levels[g.entry]) != g.top {
		return fmt.Errorf("entry %d has level %d, header says %d: %w", g.entry, g.levels[g.entry], g.top, ErrCorrupt)
	}
	for i := 0; i < g.n; i++ {
		if int(g.levels[i]) > g.top {
			return fmt.Errorf("node %d: level %d above the top %d: %w", i, g.levels[i], g.top, ErrCorrupt)
		}
		for l := 0; l <= int(g.levels[i]); l++ {
			ln := g.links(uint32(i), l)
			if int(ln[0]) > len(ln)-1 {
				return fmt.Errorf("node %d level %d: %d links: %w", i, l, ln[0], ErrCorrupt)
			}
			for _, nb := range ln[1 : 1+ln[0]] {
				if nb >= uint32(g.n) || nb == uint32(i) || int(g.levels[nb]) < l {
					return fmt.Errorf("node %d level %d: bad link %d: %w", i, l, nb, ErrCorrupt)
				}
			}
		}
		switch g.cd.kind {
		case kindNone:
			for _, x := range floats(g.code(uint32(i))) {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return fmt.Errorf("node %d: non-finite code: %w", i, ErrCorrupt)
				}
			}
		case kindPCASQ8:
			c := g.code(uint32(i))
			r := math.Float32frombits(binary.LittleEndian.Uint32(c[g.cd.pdim:]))
			if !(r >= 0) || math.IsInf(float64(r), 0) {
				return fmt.Errorf("node %d: residual %v: %w", i, r, ErrCorrupt)
			}
		}
	}
	return nil
}

// parallelRange calls fn on consecutive parts of [0, n) on up to GOMAXPROCS goroutines and
// returns when all are done.
func parallelRange(n int, fn func(lo, hi int)) {
	w := min(runtime.GOMAXPROCS(0), max(1, n/4096))
	var wg sync.WaitGroup
	for k := range w {
		wg.Go(func() { fn(k*n/w, (k+1)*n/w) })
	}
	wg.Wait()
}
