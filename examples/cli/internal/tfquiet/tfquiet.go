// Package tfquiet keeps TensorFlow's log lines off the pinrec command's terminal, without
// changing how TensorFlow runs.
//
// The TensorFlow C library logs through absl, to stderr, in two places:
//
//   - From its load-time initialisers, before Go's runtime starts: on CPUs where oneDNN is
//     on by default (AVX-512 and newer), "oneDNN custom operations are on..." and absl's
//     "WARNING: All log messages before absl::InitializeLog() is called are written to
//     STDERR", whatever TF_CPP_MIN_LOG_LEVEL says. Importing this package (in builds with cgo
//     on Linux) runs a function from the executable's .preinit_array, which the dynamic
//     loader calls before any shared library's initialiser: it points file descriptor 2 at
//     an in-memory file. The package's init function puts the real stderr back and writes
//     what was captured to it without exactly those two lines ([StartupFilter]); anything
//     else written at load time (a real error) still reaches stderr, in order.
//   - While it loads a SavedModel: about ten INFO lines, unless TF_CPP_MIN_LOG_LEVEL is set.
//     TensorFlow reads that variable when its library loads, so main cannot set it in time.
//     [Do] runs the loading with stderr captured and drops TensorFlow's INFO and WARNING
//     lines ([LogFilter]), as TF_CPP_MIN_LOG_LEVEL=2 would; when the variable is set, Do
//     leaves stderr alone and TensorFlow does what it says.
//
// Nothing here changes TensorFlow's options (TF_ENABLE_ONEDNN_OPTS=0 would also silence the
// oneDNN line, by turning oneDNN off). PINREC_TF_STARTUP=show turns the load-time capture
// off, to see everything TensorFlow prints.
package tfquiet

import (
	"bytes"
	"regexp"
)

// abslInitWarning is the line absl writes before the first log message of a program that
// has not called absl::InitializeLog.
const abslInitWarning = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"

// logPrefix matches the start of an absl log line: severity, date, time, thread, file:line
// (before absl::InitializeLog, the date is 0000 and the seconds field holds the Unix time).
var logPrefix = regexp.MustCompile(`^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.-]+:\d+\] `)

// oneDNNLine matches TensorFlow's load-time oneDNN notice, e.g. "I0000 00:00:1764512345.123456
// 4321 port.cc:153] oneDNN custom operations are on. ...".
var oneDNNLine = regexp.MustCompile(logPrefix.String() + `oneDNN custom operations are on\.`)

// StartupFilter returns out without the lines of TensorFlow's load-time chatter: exactly the
// absl warning and the INFO oneDNN notice. Every other line, and the order, are kept.
func StartupFilter(out []byte) []byte {
	return filter(out, func(line string) bool {
		return line == abslInitWarning || (line[0] == 'I' && oneDNNLine.MatchString(line))
	}, false)
}

// LogFilter returns out without TensorFlow's INFO and WARNING log lines (and the lines that
// continue them) and the absl warning: what TF_CPP_MIN_LOG_LEVEL=2 keeps off stderr. Errors
// and lines that are not TensorFlow's are kept, in order.
func LogFilter(out []byte) []byte {
	return filter(out, func(line string) bool {
		return line == abslInitWarning || ((line[0] == 'I' || line[0] == 'W') && logPrefix.MatchString(line))
	}, true)
}

// filter keeps the lines of out that drop rejects. With continued, a line that does not start
// like a log line and follows a dropped one is taken as the rest of its message and dropped.
func filter(out []byte, drop func(line string) bool, continued bool) []byte {
	var kept []byte
	dropping := false
	for len(out) > 0 {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i+1], out[i+1:]
		} else {
			out = nil
		}
		text := string(bytes.TrimRight(line, "\r\n"))
		switch {
		case text != "" && drop(text):
			dropping = true
			continue
		case continued && dropping && text != abslInitWarning && !logPrefix.MatchString(text):
			continue
		}
		dropping = false
		kept = append(kept, line...)
	}
	return kept
}
