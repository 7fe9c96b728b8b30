package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cliEnv runs the binary with exactly the environment env (plus PINREC_MODEL), unlike cli,
// which sets TF_CPP_MIN_LOG_LEVEL.
func cliEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runBin(t, "", env, args...)
}

// environWithout is the test's environment without the variables named.
func environWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			keep = keep && name != n
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}

// chatterLib builds a shared library whose initialiser writes what TensorFlow's write on
// CPUs with oneDNN on by default (the absl warning and the oneDNN notice, before main), plus
// one line that is not chatter.
func chatterLib(t *testing.T) (lib, other string) {
	t.Helper()
	other = "E0000 00:00:1764512345.223456    4321 loader.cc:1] a load-time error that must be seen"
	src := filepath.Join(t.TempDir(), "chatter.c")
	require.NoError(t, os.WriteFile(src, []byte(`#include <stdio.h>
__attribute__((constructor)) static void chatter(void) {
	fputs("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n", stderr);
	fputs("I0000 00:00:1764512345.123456    4321 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `+"`TF_ENABLE_ONEDNN_OPTS=0`"+`.\n", stderr);
	fputs("`+other+`\n", stderr);
}
`), 0o644))
	lib = filepath.Join(t.TempDir(), "libchatter.so")
	cc, err := exec.Command("go", "env", "CC").Output()
	require.NoError(t, err)
	out, err := exec.Command(strings.TrimSpace(string(cc)), "-shared", "-fPIC", "-o", lib, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return lib, other
}

// Every command prints only its own lines: TensorFlow's load-time chatter, and the INFO lines
// of loading a model when TF_CPP_MIN_LOG_LEVEL is not set, stay off stderr; what else a
// library writes at load time still reaches it.
func TestCLIQuietStderr(t *testing.T) {
	_, modelIndex, pixelIndex := labelledIndex(t)
	env := environWithout("TF_CPP_MIN_LOG_LEVEL", "PINREC_TF_STARTUP", "LD_PRELOAD")

	for _, args := range [][]string{
		{"ls", "-index", modelIndex},
		{"stats", "-index", modelIndex},
		{"stats", "-index", pixelIndex, "-json"},
		{"query", "-index", modelIndex, "-k", "2", labelled.query},
	} {
		r := cliEnv(t, env, args...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
		assert.NotEmpty(t, r.stdout, args)
		assert.Empty(t, r.stderr, "%v: nothing but the command's own lines (none here)", args)
	}

	// A library that logs from its initialiser, as TensorFlow does on AVX-512 machines: the
	// two known lines are dropped, the other one is kept.
	lib, other := chatterLib(t)
	for _, args := range [][]string{{"ls", "-index", modelIndex}, {"stats", "-index", modelIndex}} {
		r := cliEnv(t, append(env, "LD_PRELOAD="+lib), args...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
		assert.Equal(t, other+"\n", r.stderr, args)

		// PINREC_TF_STARTUP=show lets everything through (and shows that the library ran).
		r = cliEnv(t, append(env, "LD_PRELOAD="+lib, "PINREC_TF_STARTUP=show"), args...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "oneDNN custom operations are on.", args)
		assert.Contains(t, r.stderr, "absl::InitializeLog()", args)
	}
}
