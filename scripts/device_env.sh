# Source on a bare GPU machine (torch, no kornia) from the repository root, with the kornia wheel carried in .whl/
# (README "Training", "On a GPU"). kornia imports its compiled helper kornia_rs for kornia.io alone, which refsr
# never calls, so an empty stand-in takes its place.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/kornia-*.whl \
    || return 1
mkdir -p /tmp/stub/kornia_rs && touch /tmp/stub/kornia_rs/__init__.py /tmp/stub/kornia_rs/io.py
export PYTHONPATH=/tmp/site:/tmp/stub:$PWD PYTHONUNBUFFERED=1
