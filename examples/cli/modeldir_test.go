package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

func TestDefaultModelDir(t *testing.T) {
	root := t.TempDir()
	model := filepath.Join(root, "models", "resnet50")
	require.NoError(t, os.MkdirAll(model, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(model, pinrec.ModelInfoFile), []byte("{}"), 0o644))
	sub := filepath.Join(root, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o755))

	t.Setenv("PINREC_MODEL", "/somewhere/else")
	assert.Equal(t, "/somewhere/else", defaultModelDir())

	t.Setenv("PINREC_MODEL", "")
	t.Chdir(sub)
	got, err := filepath.EvalSymlinks(defaultModelDir())
	require.NoError(t, err)
	want, err := filepath.EvalSymlinks(model)
	require.NoError(t, err)
	assert.Equal(t, want, got, "found from a subdirectory")

	t.Chdir(t.TempDir())
	assert.Equal(t, filepath.FromSlash("models/resnet50"), defaultModelDir())
}
