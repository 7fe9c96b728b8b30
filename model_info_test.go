package pinrec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadModelInfoFormat(t *testing.T) {
	body := `"input_size": 224, "preprocess": "caffe", "dim": 2048, "weights": "imagenet", "pretrained": true`
	cases := []struct {
		name, format string
		newer, bad   bool
	}{
		{"no format field: version 1", "", false, false},
		{"version 1", `"pinrec-model/1"`, false, false},
		{"version 2", `"pinrec-model/2"`, true, false},
		{"version 10", `"pinrec-model/10"`, true, false},
		{"version 0", `"pinrec-model/0"`, false, true},
		{"not a number", `"pinrec-model/one"`, false, true},
		{"another format", `"onnx/1"`, false, true},
		{"not a string", `1`, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			js := "{" + body + "}"
			if tc.format != "" {
				js = `{"format": ` + tc.format + ", " + body + "}"
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, ModelInfoFile), []byte(js), 0o644))
			info, err := ReadModelInfo(dir)
			switch {
			case tc.newer:
				require.ErrorIs(t, err, ErrModelVersion)
				assert.ErrorIs(t, err, ErrBadModel)
				assert.Contains(t, err.Error(), filepath.Join(dir, ModelInfoFile))
				assert.Contains(t, err.Error(), "newer pinrec")
			case tc.bad:
				require.ErrorIs(t, err, ErrBadModel)
				assert.NotErrorIs(t, err, ErrModelVersion)
				assert.Contains(t, err.Error(), filepath.Join(dir, ModelInfoFile))
			default:
				require.NoError(t, err)
				assert.Equal(t, ModelInfo{Dir: dir, InputSize: 224, Mode: ModeCaffe, Dim: 2048, Weights: "imagenet",
					Pretrained: true, SignatureKey: "serving_default"}, info)
			}
		})
	}
}
