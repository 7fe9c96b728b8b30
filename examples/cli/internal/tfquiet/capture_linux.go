//go:build linux && cgo && !notensorflow

package tfquiet

/*
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// pinrec_capture points fd 2 at a new in-memory file and returns it, with the real stderr
// in *saved, or returns -1 (and leaves fd 2 alone) when it cannot.
static int pinrec_capture(int *saved) {
	int m = memfd_create("pinrec-stderr", MFD_CLOEXEC);
	if (m < 0) return -1;
	int s = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (s < 0 || dup2(m, 2) < 0) {
		if (s >= 0) close(s);
		close(m);
		return -1;
	}
	*saved = s;
	return m;
}

// pinrec_release points fd 2 back at saved, which it closes.
static void pinrec_release(int saved) {
	dup2(saved, 2);
	close(saved);
}

static int pinrec_startup_saved = -1; // the real stderr while the load-time capture lasts
static int pinrec_startup_file = -1;  // what fd 2 points at meanwhile

// Runs before every shared library's initialiser (so before TensorFlow's), with libc
// relocated but not initialised: only system-call wrappers and string functions here.
static void pinrec_preinit(int argc, char **argv, char **envp) {
	(void)argc;
	(void)argv;
	for (char **e = envp; e != NULL && *e != NULL; e++) {
		if (strcmp(*e, "PINREC_TF_STARTUP=show") == 0) return;
	}
	pinrec_startup_file = pinrec_capture(&pinrec_startup_saved);
}

__attribute__((section(".preinit_array"), used))
static void (*pinrec_preinit_entry)(int, char **, char **) = pinrec_preinit;

// pinrec_startup_end ends the load-time capture and returns its file, or -1 if there was none.
static int pinrec_startup_end(void) {
	int m = pinrec_startup_file;
	if (m >= 0) {
		pinrec_release(pinrec_startup_saved);
		pinrec_startup_file = pinrec_startup_saved = -1;
	}
	return m;
}
*/
import "C"

import (
	"io"
	"os"
	"sync"
)

// init ends the capture that pinrec_preinit started, as early as Go allows, and passes on
// what the libraries' initialisers wrote, without TensorFlow's chatter.
func init() {
	if fd := int(C.pinrec_startup_end()); fd >= 0 {
		passOn(fd, StartupFilter)
	}
}

// passOn writes what the in-memory file fd holds to stderr through filter, and closes it.
func passOn(fd int, filter func([]byte) []byte) {
	f := os.NewFile(uintptr(fd), "captured-stderr")
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return
	}
	if out, err := io.ReadAll(f); err == nil {
		if kept := filter(out); len(kept) > 0 {
			os.Stderr.Write(kept)
		}
	}
}

var doMu sync.Mutex // one capture of fd 2 at a time

// Do runs fn, code that loads a TensorFlow model, with TensorFlow's INFO and WARNING lines
// kept off stderr (LogFilter) when TF_CPP_MIN_LOG_LEVEL is not set. fd 2 is the process's:
// whatever else writes to stderr meanwhile reaches it after fn returns, in order.
func Do(fn func()) {
	if os.Getenv("TF_CPP_MIN_LOG_LEVEL") != "" || os.Getenv("PINREC_TF_STARTUP") == "show" {
		fn()
		return
	}
	doMu.Lock()
	defer doMu.Unlock()
	var saved C.int
	fd := int(C.pinrec_capture(&saved))
	if fd < 0 {
		fn()
		return
	}
	defer func() {
		C.pinrec_release(saved)
		passOn(fd, LogFilter)
	}()
	fn()
}
