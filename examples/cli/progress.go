package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal, where index draws a progress bar instead of
// printing periodic lines. Other character devices (/dev/null) are not terminals.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// reporter writes index's per-file reports and progress to stderr. On a terminal the
// progress bar is one line redrawn in place; a report clears it first. It is used by one
// goroutine at a time.
type reporter struct {
	w   io.Writer
	tty bool
	bar string // the bar on screen now, "" if none
}

// skip reports a file that cannot be used.
func (r *reporter) skip(id, reason string) {
	r.clear()
	fmt.Fprintf(r.w, "skip %s: %s\n", id, reason)
	r.redraw()
}

func (r *reporter) clear() {
	if r.tty && r.bar != "" {
		fmt.Fprintf(r.w, "\r%s\r", strings.Repeat(" ", len(r.bar)))
	}
}

func (r *reporter) redraw() {
	if r.tty && r.bar != "" {
		fmt.Fprint(r.w, "\r"+r.bar)
	}
}

// progress counts files done out of total: a bar with count, rate and ETA on a terminal,
// else a plain line every progressEvery.
type progress struct {
	out       *reporter
	total     int
	n         int
	start     time.Time
	lastPrint time.Time
}

const progressEvery = 10 * time.Second

func newProgress(out *reporter, total int) *progress {
	now := time.Now()
	p := &progress{out: out, total: total, start: now, lastPrint: now}
	if out.tty {
		out.bar = p.line()
		out.redraw()
	}
	return p
}

func (p *progress) add(n int) {
	p.n += n
	if p.out.tty {
		p.out.clear()
		p.out.bar = p.line()
		p.out.redraw()
		return
	}
	if time.Since(p.lastPrint) >= progressEvery && p.n < p.total {
		p.lastPrint = time.Now()
		fmt.Fprintf(p.out.w, "pinrec index: %s\n", p.stats())
	}
}

// done ends the bar (the last state stays on screen) or prints the last line.
func (p *progress) done() {
	if !p.out.tty {
		fmt.Fprintf(p.out.w, "pinrec index: %s\n", p.stats())
		return
	}
	if p.out.bar != "" {
		p.out.clear()
		p.out.bar = p.line()
		p.out.redraw()
		fmt.Fprintln(p.out.w)
		p.out.bar = ""
	}
}

// stats is "512/1000 images, 38.2 images/s, ETA 13s".
func (p *progress) stats() string {
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.n) / el
	}
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-p.n) / rate * float64(time.Second)).Round(time.Second).String()
	}
	if p.n >= p.total {
		eta = "done in " + time.Duration(el*float64(time.Second)).Round(100*time.Millisecond).String()
		return fmt.Sprintf("%d/%d images, %.1f images/s, %s", p.n, p.total, rate, eta)
	}
	return fmt.Sprintf("%d/%d images, %.1f images/s, ETA %s", p.n, p.total, rate, eta)
}

// line is the terminal bar: [=========>          ] 512/1000 images, 38.2 images/s, ETA 13s
func (p *progress) line() string {
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = p.n * width / p.total
	}
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	return "[" + bar + "] " + p.stats()
}
