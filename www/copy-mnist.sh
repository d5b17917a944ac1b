#!/bin/sh
# Trunk post-build hook: copies MNIST's two test files into the build (dist/data/mnist), from
# $ADVDROP_MNIST or data/mnist. Without them the page still works (draw or drop digits), so a
# missing file is a warning that says how to fetch it, not an error.
set -eu
src="${ADVDROP_MNIST:-data/mnist}"
dest="${TRUNK_STAGING_DIR:?run by trunk}/data/mnist"
mkdir -p "$dest"
for f in t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  if [ -f "$src/$f" ]; then
    cp "$src/$f" "$dest/$f"
  else
    echo "warning: $src/$f missing: the page will have no test digits." >&2
    echo "         fetch MNIST with 'advdrop fetch-mnist' (or make serve), then rebuild." >&2
  fi
done
