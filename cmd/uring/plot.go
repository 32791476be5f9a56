package main

import (
	"fmt"
	"html"
	"os"
	"strings"
)

// writePlot draws the ratios as an SVG bar chart: one bar per case (io_uring
// over the standard library, median of the rounds), an error bar from the
// lowest to the highest round's ratio, and a line at 1.0 (parity).
func writePlot(path string, rep *benchReport) error {
	type bar struct {
		name          string
		ratio, lo, hi float64
	}
	var bars []bar
	top := 1.5
	for _, c := range rep.Cases {
		if c.Ratio > 0 {
			bars = append(bars, bar{c.Case, c.Ratio, c.RatioLow, c.RatioHigh})
			top = max(top, c.RatioHigh*1.1)
		}
	}
	const (
		w, h                   = 720, 420
		left, right, up, below = 60, 20, 50, 60
	)
	plotW, plotH := float64(w-left-right), float64(h-up-below)
	y := func(v float64) float64 { return float64(up) + plotH*(1-v/top) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	title := fmt.Sprintf("uring bench: io_uring / standard library (kernel %s, %d CPUs)", rep.Kernel, rep.CPUs)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15">%s</text>`+"\n", left, html.EscapeString(title))
	// Axis and grid.
	for v := 0.0; v <= top+1e-9; v += tick(top) {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, w-right, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.2fx</text>`+"\n", left-6, y(v)+4, v)
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#c00" stroke-dasharray="6,4"/>`+"\n", left, w-right, y(1), y(1))
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#c00">parity</text>`+"\n", left+4, y(1)-4)
	if len(bars) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d">no ratios: io_uring unavailable or every case skipped</text>`+"\n", left+10, h/2)
	}
	slot := plotW / float64(max(len(bars), 1))
	for i, br := range bars {
		x := float64(left) + slot*float64(i) + slot*0.2
		bw := slot * 0.6
		color := "#4a7"
		if br.ratio < 1 {
			color = "#d84"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y(br.ratio), bw, y(0)-y(br.ratio), color)
		cx := x + bw/2
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black"/>`+"\n", cx, cx, y(br.lo), y(br.hi))
		for _, v := range []float64{br.lo, br.hi} {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black"/>`+"\n", cx-6, cx+6, y(v), y(v))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%.2fx</text>`+"\n", cx, y(br.hi)-6, br.ratio)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", cx, h-below+18, html.EscapeString(br.name))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">bars: median ratio of %d rounds; whiskers: lowest and highest round</text>`+"\n", left, h-12, rep.Rounds)
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// tick picks a grid step for an axis up to top.
func tick(top float64) float64 {
	switch {
	case top <= 2:
		return 0.25
	case top <= 5:
		return 0.5
	}
	return 1
}
