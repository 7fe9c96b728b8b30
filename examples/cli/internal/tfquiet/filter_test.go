package tfquiet

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

const (
	absl      = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
	oneDNN    = "I0000 00:00:1764512345.123456   4321 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n"
	info      = "I0000 00:00:1796053010.060740   20470 reader.cc:83] Reading SavedModel from: /models/resnet50\n"
	guard     = "I0000 00:00:1796053010.150584   20470 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.\n"
	guardMore = "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.\n"
	warn      = "W0000 00:00:1796053011.321012   20470 loader.cc:1] a warning\n"
	errLine   = "E0000 00:00:1764512345.223456   4321 loader.cc:1] something that matters\n"
)

func TestStartupFilter(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"nothing", "", ""},
		{"the two lines", absl + oneDNN, ""},
		{"other lines kept, in order", "first\n" + absl + errLine + oneDNN + info + "last", "first\n" + errLine + info + "last"},
		{"CRLF", absl[:len(absl)-1] + "\r\n", ""},
		{"a near miss is kept", "WARNING: All log messages before absl::InitializeLog() is called\n", "WARNING: All log messages before absl::InitializeLog() is called\n"},
		{"the notice quoted inside another line is kept", "note: " + oneDNN, "note: " + oneDNN},
		{"a warning-level oneDNN line is kept", "W" + oneDNN[1:], "W" + oneDNN[1:]},
		{"empty lines kept", "\n\n", "\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(StartupFilter([]byte(tc.in))))
		})
	}
}

func TestLogFilter(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"nothing", "", ""},
		{"what a model load logs", absl + info + guard + guardMore + info + warn, ""},
		{"errors kept", info + errLine + warn, errLine},
		{"other lines kept, in order", "first\n" + info + errLine + "second\n" + warn + errLine + "last", "first\n" + errLine + "second\n" + errLine + "last"},
		{"a continuation after a kept line is kept", errLine + guardMore, errLine + guardMore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(LogFilter([]byte(tc.in))))
		})
	}
}
