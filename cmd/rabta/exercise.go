package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/exercise"
)

const exerciseUsage = `usage: rabta exercise run --from T1 --to T2 (--demo | --source URL --key K) [flags]

Replays stored history through a fresh, isolated node: ingest, QC, rules (status Exercise),
drafts, approval, CAP, dissemination to the exercise's recipients only; then writes a report.
T1 and T2 are RFC 3339 times (2025-08-24T00:00:00+05:00) or dates (2025-08-24, 00:00 UTC).
`

// usageError is a command line the command cannot run: main exits with status 2 for it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitCode is main's exit status for err: 2 for a command line that cannot run, 1 otherwise.
func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// exerciseCmd runs "rabta exercise run".
func exerciseCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, exerciseUsage)
			return nil
		}
		fmt.Fprint(stderr, exerciseUsage)
		if len(args) == 0 {
			return usagef("exercise: no subcommand given (want run)")
		}
		return usagef("exercise: unknown subcommand %q (want run)", args[0])
	}
	fs := flag.NewFlagSet("exercise run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, exerciseUsage, "\nFlags:\n"); fs.PrintDefaults() }
	from := fs.String("from", "", "start of the replay: RFC 3339 time or date (YYYY-MM-DD, 00:00 UTC); required")
	to := fs.String("to", "", "end of the replay, after --from; required")
	speed := fs.String("speed", "3600", "exercise seconds per wall-clock second, or max: as fast as the chain takes it")
	useDemo := fs.Bool("demo", false, "replay the embedded demo data in the window: PDMA Punjab gauges (2025 season, June–July 2026) with flood rules; Beijing air quality and weather (2014, Mar 2016–Feb 2017) with sector advisories")
	source := fs.String("source", "", "replay a running node's history: its base URL (http://host:8080)")
	key := fs.String("key", "", "API key for --source (viewer role is enough; env RABTA_EXERCISE_SOURCE_KEY)")
	workspace := fs.String("workspace", "", "exercise directory (default: a new temporary directory, kept afterwards)")
	recipients := fs.String("recipients", "", "subscriber CSV (examples/subscribers.csv's columns): the only people the exercise reaches")
	approveAfter := fs.Duration("approve-after", 0, "simulated approver: approve each draft this long (exercise time) after it appears, e.g. 30m")
	reportDir := fs.String("report", "", "report directory (default: the workspace)")
	logLevel := fs.String("log-level", "warn", "node log level on stderr: debug, info, warn, error")
	if err := parse(fs, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("exercise run: %v", err)
	}
	if fs.NArg() > 0 {
		return usagef("exercise run: unexpected argument %q", fs.Arg(0))
	}
	t1, err := parseExerciseTime("from", *from)
	if err != nil {
		return err
	}
	t2, err := parseExerciseTime("to", *to)
	if err != nil {
		return err
	}
	if !t2.After(t1) {
		return usagef("exercise run: --to %s is not after --from %s", *to, *from)
	}
	n, err := parseSpeed(*speed)
	if err != nil {
		return err
	}
	if *approveAfter < 0 {
		return usagef("exercise run: --approve-after %s: want a positive duration", *approveAfter)
	}
	if *key == "" {
		*key = os.Getenv("RABTA_EXERCISE_SOURCE_KEY")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("exercise run: --log-level %q: want debug, info, warn or error", *logLevel)
	}
	var h *exercise.History
	switch {
	case *useDemo && *source != "":
		return usagef("exercise run: give --demo or --source, not both")
	case *useDemo:
		if h, err = exercise.Demo(t1, t2); err != nil {
			return err
		}
	case *source != "":
		if h, err = exercise.Remote(ctx, *source, *key, t1, t2); err != nil {
			return err
		}
	default:
		return usagef("exercise run: say what to replay: --demo (the embedded demo data) or --source URL --key K (a running node's history)")
	}
	if *workspace == "" {
		if *workspace, err = os.MkdirTemp("", "rabta-exercise-"); err != nil {
			return err
		}
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	rep, err := exercise.Run(ctx, exercise.Options{From: t1, To: t2, Speed: n, History: h, Workspace: *workspace,
		Recipients: *recipients, ApproveAfter: *approveAfter, ReportDir: *reportDir,
		Progress: stderr, ProgressTTY: tty, Console: stderr,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exercise: %d readings in %s (%.0f/s); %d alerts, %d drafts never approved, %d crossings missed, %d deliveries outside the recipients\n",
		rep.Observations, rep.Wall, rep.ObsPerSecond, len(rep.Alerts), len(rep.Unapproved), len(rep.Missed), rep.NonRecipients)
	return nil
}

// parseExerciseTime reads --from or --to: an RFC 3339 time, or a date (00:00 UTC).
func parseExerciseTime(flagName, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, usagef("exercise run: --%s is required (RFC 3339 time or YYYY-MM-DD)", flagName)
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("exercise run: --%s %q: want an RFC 3339 time (2025-08-24T00:00:00+05:00) or a date (2025-08-24)", flagName, s)
}

// parseSpeed reads --speed: "max" (0) or a positive number of exercise seconds per wall second.
func parseSpeed(s string) (float64, error) {
	if strings.EqualFold(strings.TrimSpace(s), "max") {
		return 0, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(v > 0) || v > 1e9 {
		return 0, usagef("exercise run: --speed %q: want max or a number of exercise seconds per second above 0 (3600: an hour a second)", s)
	}
	return v, nil
}
