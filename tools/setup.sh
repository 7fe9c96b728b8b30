#!/usr/bin/env bash
# Sets up everything pinrec's build, tests and demo need on a fresh machine. Idempotent.
#
#   .venv/               Python virtualenv with the pinned wheels of tools/requirements.txt
#   .venv/tf/include     the TensorFlow C API headers shipped in the tensorflow-cpu wheel
#   .venv/tf/lib         libtensorflow.so (a linker script naming the wheel's libtensorflow_cc.so.2 and
#                        libtensorflow_framework.so.2, which the Go bindings' -ltensorflow resolves to)
#   .venv/tf/env.sh      CGO_CFLAGS/CGO_LDFLAGS for plain `go` commands (with an rpath: binaries need no env)
#   models/resnet50/     the Keras ResNet50 SavedModel (ImageNet weights when they can be downloaded;
#                        otherwise seeded RANDOM weights, labelled so in models/resnet50/pinrec.json)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py=${PYTHON:-python3}
venv=$root/.venv

# libjpeg-turbo's headers and library (Debian: libjpeg62-turbo-dev): cgo builds decode JPEGs with
# it, as Pillow does (internal/jpegturbo; build with -tags nolibjpeg to do without).
if ! printf '#include <stdio.h>\n#include <jpeglib.h>\n' | "${CC:-cc}" -E -x c - >/dev/null 2>&1; then
  echo "setup: installing Debian's libjpeg62-turbo-dev (libjpeg-turbo headers)"
  if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
  $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q libjpeg62-turbo-dev >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  "$py" -m venv "$venv"
fi
stamp=$venv/.requirements.sha
want=$(sha256sum tools/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing tools/requirements.txt into $venv (TensorFlow is about 270 MB)"
  "$venv/bin/pip" install --disable-pip-version-check -q -r tools/requirements.txt
  echo "$want" > "$stamp"
fi

tfpkg=$("$venv/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("tensorflow")
print(os.path.dirname(spec.origin))
PY
)
for f in libtensorflow_cc.so.2 libtensorflow_framework.so.2 include/tensorflow/c/c_api.h; do
  [ -e "$tfpkg/$f" ] || { echo "setup: $tfpkg/$f is missing: the tensorflow-cpu wheel no longer ships the C API" >&2; exit 1; }
done
mkdir -p "$venv/tf/lib"
ln -sfn "$tfpkg/include" "$venv/tf/include"
ln -sf "$tfpkg/libtensorflow_cc.so.2" "$venv/tf/lib/libtensorflow_cc.so.2"
ln -sf "$tfpkg/libtensorflow_framework.so.2" "$venv/tf/lib/libtensorflow_framework.so.2"
# -ltensorflow: a GNU ld script, so the link pulls in both libraries (the C API is split between them).
echo "INPUT($venv/tf/lib/libtensorflow_cc.so.2 $venv/tf/lib/libtensorflow_framework.so.2)" > "$venv/tf/lib/libtensorflow.so"
cat > "$venv/tf/env.sh" <<ENV
# Source this to use plain go commands against the wheel's TensorFlow C library.
export CGO_CFLAGS="-I$venv/tf/include"
export CGO_LDFLAGS="-L$venv/tf/lib -Wl,-rpath,$venv/tf/lib"
export TF_CPP_MIN_LOG_LEVEL=\${TF_CPP_MIN_LOG_LEVEL:-2}
ENV

model=${PINREC_MODEL:-$root/models/resnet50}
if [ ! -f "$model/pinrec.json" ]; then
  weights=${PINREC_WEIGHTS:-imagenet}
  echo "setup: exporting Keras ResNet50 (weights=$weights) to $model"
  set +e
  TF_CPP_MIN_LOG_LEVEL=2 "$venv/bin/python" tools/export_model.py --weights "$weights" --out "$model"
  rc=$?
  set -e
  if [ $rc -eq 3 ] && [ -z "${PINREC_WEIGHTS:-}" ]; then
    echo "setup: ImageNet weights could not be downloaded (no internet)." >&2
    echo "setup: exporting seeded RANDOM weights instead: embeddings will not be semantically meaningful." >&2
    echo "setup: on a machine with internet, rm -rf $model && make setup gives real ImageNet weights." >&2
    TF_CPP_MIN_LOG_LEVEL=2 "$venv/bin/python" tools/export_model.py --weights random --seed 0 --out "$model"
  elif [ $rc -ne 0 ]; then
    exit $rc
  fi
fi
# Exports made before the "features" signature (region items) are re-exported once, with
# the same weights: seeded random ones from their seed; ImageNet ones only if Keras can fetch them
# again (otherwise the old export stays, and pinrec index -regions says the model lacks it).
if ! grep -q '"features_signature_key"' "$model/pinrec.json"; then
  read -r pre seed < <("$venv/bin/python" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(int(bool(m.get("pretrained"))), m.get("seed") or 0)' "$model/pinrec.json")
  if [ "$pre" = 1 ]; then args=(--weights imagenet); else args=(--weights random --seed "$seed"); fi
  echo "setup: re-exporting $model with its feature-map signature (${args[*]})"
  set +e
  TF_CPP_MIN_LOG_LEVEL=2 "$venv/bin/python" tools/export_model.py "${args[@]}" --out "$model"
  rc=$?
  set -e
  if [ $rc -eq 3 ]; then
    echo "setup: could not fetch the ImageNet weights again; $model keeps its old export (no region items)" >&2
  elif [ $rc -ne 0 ]; then
    exit $rc
  fi
fi
echo "setup: ok ($("$venv/bin/python" -c 'import json,sys; m=json.load(open(sys.argv[1])); print("weights:", m.get("weights"))' "$model/pinrec.json"))"
