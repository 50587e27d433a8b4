package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// writeCSV writes the data set in the generic import layout (datastream by @iot.id), in the
// same order the raw baseline inserts it.
func writeCSV(path string, g dataset, ids []int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("datastream,phenomenonTime,result\n")
	var b []byte
	g.each(allStreams(g.d), func(i, h int) bool {
		b = strconv.AppendInt(b[:0], ids[i], 10)
		b = append(b, ',')
		b = appendTime(b, h)
		b = append(b, ',')
		b = appendValue(b, value(i, h))
		b = append(b, '\n')
		_, err = w.Write(b)
		return err == nil
	})
	if err != nil {
		return 0, err
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), f.Close()
}

var importSummary = regexp.MustCompile(`(\d+) stored, (\d+) already present, (\d+) rejected`)

// csvImport times `rabta import observations --quiet --data-dir dir file`.
func csvImport(ctx context.Context, bin, dir, file string, rows int) (phaseResult, error) {
	var res phaseResult
	cmd := exec.CommandContext(ctx, bin, "import", "observations", "--quiet", "--data-dir", dir, file)
	cmd.Env = env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	res.Wall = time.Since(start)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if cmd.ProcessState != nil {
		ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if ru != nil {
			res.ServerCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
			res.PeakRSSKiB = ru.Maxrss // KiB on Linux
		}
	}
	m := importSummary.FindStringSubmatch(out.String())
	if m == nil {
		return res, fmt.Errorf("rabta import: %v\nstdout: %.2000s\nstderr: %.2000s", err, out.String(), errb.String())
	}
	res.Rows = rows
	res.Stored, _ = strconv.Atoi(m[1])
	dup, _ := strconv.Atoi(m[2])
	res.Rejected, _ = strconv.Atoi(m[3])
	res.Rejected += dup
	if err != nil && res.Rejected == 0 {
		return res, fmt.Errorf("rabta import: %v\n%s", err, errb.String())
	}
	if res.Stored+res.Rejected != rows {
		return res, fmt.Errorf("rabta import: %d stored + %d rejected, want %d rows\n%s", res.Stored, res.Rejected, rows, out.String())
	}
	if res.Rejected > 0 {
		first, _, _ := bytes.Cut(out.Bytes(), []byte("\n"))
		res.Example = string(first)
	}
	res.PerSec = float64(res.Stored) / res.Wall.Seconds()
	return res, nil
}
