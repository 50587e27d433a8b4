package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExerciseCommandLine: a command line the exercise cannot run is exit status 2 with a
// message naming the flag and what it wants.
func TestExerciseCommandLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"exercise"}, "no subcommand"},
		{[]string{"exercise", "start"}, `unknown subcommand "start"`},
		{[]string{"exercise", "run", "--demo", "--from", "yesterday", "--to", "2025-08-30"}, `--from "yesterday": want an RFC 3339 time`},
		{[]string{"exercise", "run", "--demo", "--from", "2025-08-30", "--to", "2025-08-21"}, "--to 2025-08-21 is not after --from 2025-08-30"},
		{[]string{"exercise", "run", "--demo", "--from", "2025-08-21", "--to", "2025-08-21"}, "is not after"},
		{[]string{"exercise", "run", "--demo", "--to", "2025-08-21"}, "--from is required"},
		{[]string{"exercise", "run", "--demo", "--from", "2025-08-21", "--to", "2025-08-22", "--colour", "red"}, "flag provided but not defined: -colour"},
		{[]string{"exercise", "run", "--demo", "--from", "2025-08-21", "--to", "2025-08-22", "--speed", "fast"}, `--speed "fast": want max or a number`},
		{[]string{"exercise", "run", "--demo", "--from", "2025-08-21", "--to", "2025-08-22", "--speed", "-5"}, `--speed "-5"`},
		{[]string{"exercise", "run", "--demo", "--from", "2025-08-21", "--to", "2025-08-22", "--approve-after", "-1h"}, "--approve-after -1h0m0s: want a positive duration"},
		{[]string{"exercise", "run", "--from", "2025-08-21", "--to", "2025-08-22"}, "say what to replay: --demo"},
		{[]string{"exercise", "run", "--demo", "--source", "http://127.0.0.1:1", "--from", "2025-08-21", "--to", "2025-08-22"}, "not both"},
		{[]string{"exercise", "run", "--demo", "--from", "2025-08-21", "--to", "2025-08-22", "extra"}, `unexpected argument "extra"`},
	} {
		_, _, err := inProcess(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != 2 {
			t.Errorf("%v: err %v (exit %d), want exit 2 naming %q", c.args, err, exitCode(err), c.want)
		}
	}
	// not a command-line error: exit 1
	_, _, err := inProcess(t, "exercise", "run", "--demo", "--from", "2024-01-01", "--to", "2024-01-02", "--workspace", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "the demo data has no reading") || exitCode(err) != 1 {
		t.Errorf("a window outside the demo data: err %v (exit %d), want exit 1 saying there is no reading", err, exitCode(err))
	}
}

// TestExerciseRun runs the command of the README's tour on three quiet days of the demo (5–7
// Aug 2025: every gauge below its lowest class, so it stays quick; TestExerciseDemo in
// internal/exercise replays the flood) at maximum speed: the summary on stdout, the node's
// address, the progress lines and the report on stderr and disk.
func TestExerciseRun(t *testing.T) {
	t.Parallel()
	onceOnly(t)
	ws := filepath.Join(t.TempDir(), "ws")
	start := time.Now()
	out, errOut, err := inProcess(t, "exercise", "run", "--demo", "--from", "2025-08-05", "--to", "2025-08-08T00:00:00Z", "--speed", "max", "--approve-after", "30m", "--workspace", ws)
	if err != nil {
		t.Fatalf("exercise run: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "exercise: 54 readings in") || !strings.Contains(out, "0 alerts, 0 drafts never approved, 0 crossings missed, 0 deliveries outside the recipients") {
		t.Errorf("stdout %q", out)
	}
	for _, want := range []string{"exercise node: http://127.0.0.1:", "admin API key: in " + filepath.Join(ws, "admin.key"), "exercise: 100%", "report: " + filepath.Join(ws, "report.md")} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := strings.Count(errOut, "% "); n > 12 {
		t.Errorf("%d progress lines on a non-terminal, want one every 10 %%:\n%s", n, errOut)
	}
	md, err := os.ReadFile(filepath.Join(ws, "report.md"))
	if err != nil || !strings.Contains(string(md), "| Readings replayed | 54 |") {
		t.Errorf("report.md: %v\n%s", err, md)
	}
	t.Logf("exercise run of 3 quiet days: %v", time.Since(start))
}

// FuzzExerciseFlags: --from/--to and --speed accept what they document and refuse the rest
// with a usage error, never a panic.
func FuzzExerciseFlags(f *testing.F) {
	for _, s := range []string{"2025-08-21", "2025-08-21T00:00:00+05:00", "2025-08-21T00:00:00Z", "yesterday", "", "max", "3600", "-1", "NaN", "1e10", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseExerciseTime("from", s)
		if err != nil && exitCode(err) != 2 {
			t.Errorf("parseExerciseTime(%q): %v is not a usage error", s, err)
		}
		if err == nil && (tm.IsZero() || tm.Location() != time.UTC) {
			t.Errorf("parseExerciseTime(%q) = %v, want a UTC time", s, tm)
		}
		v, err := parseSpeed(s)
		if err != nil && exitCode(err) != 2 {
			t.Errorf("parseSpeed(%q): %v is not a usage error", s, err)
		}
		if err == nil && (v < 0 || v > 1e9 || v != v) {
			t.Errorf("parseSpeed(%q) = %v", s, v)
		}
	})
}
