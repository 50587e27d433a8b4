package exercise

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows where the replay stands: a redrawn bar on a terminal
// (github.com/schollz/progressbar/v3), a line every 10 % elsewhere (a log, a pipe).
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	tenth int // last tenth printed (line mode)
}

// progressSteps is the bar's resolution.
const progressSteps = 1000

func newProgress(w io.Writer, tty bool) progress {
	p := progress{w: w, tenth: -1}
	if w != nil && tty {
		p.bar = progressbar.NewOptions(progressSteps, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("exercise"),
			progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
	}
	return p
}

// progress shows that the exercise clock stands at t.
func (r *run) progress(t time.Time) {
	p := &r.bar
	if p.w == nil {
		return
	}
	span := r.opts.To.Sub(r.opts.From)
	f := min(max(float64(t.Sub(r.opts.From))/float64(span), 0), 1)
	if f < r.done {
		return
	}
	r.done = f
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("exercise %s", t.UTC().Format("2006-01-02 15:04Z")))
		p.bar.Set(int(f * progressSteps))
		return
	}
	if tenth := int(f * 10); tenth > p.tenth {
		p.tenth = tenth
		fmt.Fprintf(p.w, "exercise: %3d%%  %s  %d readings replayed\n", tenth*10, t.UTC().Format("2006-01-02 15:04Z"), r.obs)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
