"""The `refsr` command: degrade, sr, match, ingest, info, train (README, "Command line")."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import traceback
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np

from refsr.errors import InputError
from refsr.train import TRAINERS  # names only: the trainers load when one runs

DEVICES = ("auto", "cpu", "cuda")


def _say(message: str) -> None:
    """Progress and status lines go to stderr."""
    print(message, file=sys.stderr, flush=True)


def _is_tty() -> bool:
    return sys.stderr.isatty()


PRECISION_HELP = "network arithmetic: auto = bfloat16 where the CPU/GPU runs it natively, else float32"
MAX_BACK_PROJECT = 100


def _int_in(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high] (high None: no upper bound)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"{value}: must be {bound}")
        return value
    parse.__name__ = "integer"
    return parse


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return action.help if action.default is None else super()._get_help_string(action)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("refsr")
    except PackageNotFoundError:
        return "unknown (not installed)"

# ---------------------------------------------------------------- commands

def cmd_degrade(args: argparse.Namespace) -> int:
    from refsr.degrade import SCALE, degrade
    from refsr.io.images import check_output_image, read_image, require_min_size, write_image

    check_output_image(args.lr)
    hr = read_image(args.hr)
    require_min_size(args.hr, hr.shape, 8 * SCALE)
    lr = degrade(hr)
    write_image(args.lr, lr)
    _say(f"{args.hr}: {hr.shape[0]}x{hr.shape[1]} -> {args.lr}: {lr.shape[0]}x{lr.shape[1]} (HxW, x{SCALE})")
    return 0


def cmd_sr(args: argparse.Namespace) -> int:
    from refsr.degrade import SCALE
    from refsr.io.images import check_output_image, read_image, require_min_size, write_image
    from refsr.methods import METHODS, default_method, super_resolve

    check_output_image(args.out)
    lr, ref = read_image(args.lr), read_image(args.ref)
    require_min_size(args.lr, lr.shape, SCALE)
    args.method = args.method or default_method()
    method = METHODS[args.method]
    if method.uses_reference:
        require_min_size(args.ref, ref.shape)
    given = {"fusion": args.fusion, "search": args.search, "flow": args.flow, "precision": args.precision,
             "ensemble": args.ensemble}
    options = method.applicable(given)
    sr = super_resolve(lr, ref, args.method, device=args.device, back_project=args.back_project,
                       progress=_is_tty(), **options)
    want = (lr.shape[0] * SCALE, lr.shape[1] * SCALE, 3)
    if sr.shape != want or sr.dtype != np.uint8:
        raise RuntimeError(f"method {args.method!r} returned {sr.dtype} {sr.shape}, expected uint8 {want}")
    write_image(args.out, sr)
    _say(f"{args.out}: {sr.shape[0]}x{sr.shape[1]} (HxW) by {args.method}")
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from refsr.degrade import SCALE
    from refsr.io.atomic import atomic_path, check_writable
    from refsr.io.images import read_image, require_min_size
    from refsr.matching import match

    if Path(args.out).suffix.lower() != ".npz":
        raise InputError(args.out, "the matches are saved as NumPy .npz; give a name ending in .npz")
    check_writable(args.out)
    lr, ref = read_image(args.lr), read_image(args.ref)
    require_min_size(args.lr, lr.shape, SCALE)
    require_min_size(args.ref, ref.shape)
    centers, matches = match(lr, ref, args.method, stride=args.stride, search=args.search, device=args.device,
                             precision=args.precision)
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, centers=centers, matches=matches)
    _say(f"{args.out}: {len(centers)} matches by {args.method}")
    return 0


def cmd_ingest_sintel(args: argparse.Namespace) -> int:
    from refsr.io.sintel import clips_with_pass, list_clips, read_clip
    from refsr.store import ingest_video

    available = list_clips(args.root)
    if args.clips:
        names = args.clips
    else:
        names = clips_with_pass(available, args.pass_name)
        skipped = sorted(set(available) - set(names))
        if skipped:
            _say(f"skipping clips without a {args.pass_name!r} pass: {', '.join(skipped)}")
    if not names:
        raise InputError(args.root, f"no clip has a {args.pass_name!r} pass")
    clips = []
    for name in names:  # read (and validate) everything before writing anything
        _say(f"reading {name} ({args.pass_name})")
        clips.append(read_clip(args.root, name, args.pass_name))
    for clip in clips:
        result = ingest_video(args.store, clip.name, clip, overwrite=args.overwrite)
        print(f"{clip.name}: {result} ({len(clip.numbers)} frames, flow for {sorted(clip.flow)})")
    return 0


def cmd_ingest_lightfield(args: argparse.Namespace) -> int:
    from refsr.io.lightfield import read_lightfield, scene_name
    from refsr.store import ingest_lightfield

    path = Path(args.path)
    name = args.name or scene_name(path)
    _say(f"reading {path}")
    lf = read_lightfield(path, progress=_is_tty())
    result = ingest_lightfield(args.store, name, lf, overwrite=args.overwrite)
    u, v, h, w, _ = lf.views.shape
    print(f"{name}: {result} ({lf.reader}, grid {u}x{v}, views {h}x{w})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import json

    from refsr.store import INFO_ROWS, inspect_store, open_store, render

    info = inspect_store(open_store(args.store, "r"), verify=args.verify)
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        print(render(info, max_rows=None if args.all else INFO_ROWS))
    problems = info["problems"]
    if problems:  # damage: one line naming the first file, exit 2
        more = f" (and {len(problems) - 1} more problem(s); refsr info --json lists them)" if len(problems) > 1 else ""
        raise InputError(problems[0]["path"], problems[0]["problem"] + more)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    try:
        from refsr.train import main as train_main
    except ImportError as err:
        raise RuntimeError(f"training is not available in this build ({err})") from None
    return int(train_main(args.net, list(args.rest)) or 0)


# ---------------------------------------------------------------- parser

def _matchers() -> Sequence[str] | None:
    try:
        from refsr.matching import MATCHERS
    except Exception:  # a broken matcher module must not take the other commands down
        return None
    return MATCHERS


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser; method choices come from the registries at call time."""
    from refsr.matching.search import SEARCH
    from refsr.methods import METHODS
    from refsr.io.sintel import RENDER_PASSES
    from refsr.precision import PRECISIONS
    from refsr.synthesis import FUSIONS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    parser = argparse.ArgumentParser(prog="refsr", parents=[common],
                                     description="Reference-based x8 super-resolution (RefSR-Net).")
    parser.add_argument("--version", action="version", version=f"refsr {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser = partial(sub.add_parser, formatter_class=_HelpWithDefaults)

    p = sub.add_parser("degrade", parents=[common], help="HR image -> x8 LR image (method.md degradation)",
                       description="Crop HR to a multiple of 8 and shrink it x8 (antialiased bicubic).")
    p.add_argument("hr", metavar="HR", help="input image (at least 64x64)")
    p.add_argument("lr", metavar="LR", help="output image (.png, .jpg or .tif)")
    p.set_defaults(func=cmd_degrade)

    p = sub.add_parser("sr", parents=[common], help="super-resolve LR x8 with an HR reference",
                       description="Super-resolve LR x8 using REF; OUT is exactly 8x the LR size.")
    p.add_argument("lr", metavar="LR", help="the low-resolution input image")
    p.add_argument("ref", metavar="REF", help="the high-resolution reference image (at least 64x64)")
    p.add_argument("out", metavar="OUT", help="output image (.png, .jpg or .tif), 8x the size of LR")
    p.add_argument("--method", choices=sorted(METHODS),
                   help="super-resolution method (default: refsr when its weights are shipped, else bicubic)")
    p.add_argument("--fusion", choices=FUSIONS, default=FUSIONS[0], help="refsr: how patches are fused")
    p.add_argument("--ensemble", action="store_true",
                   help="refsr: also run on the mirrored pair and average the two (twice the time)")
    p.add_argument("--search", type=_int_in(1), default=SEARCH, help="refsr/exemplar: match search radius in HR pixels")
    p.add_argument("--flow", choices=("dis", "farneback"), default="dis", help="flow-warp: OpenCV flow algorithm")
    p.add_argument("--back-project", type=_int_in(0, MAX_BACK_PROJECT), metavar="N",
                   help="iterations of back-projection after the method (unset: "
                        + ", ".join(f"{m.back_project} for {m.name}" for m in METHODS.values() if m.back_project)
                        + ", else 0)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="where the networks run")
    p.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)
    p.set_defaults(func=cmd_sr)

    matchers = _matchers()
    p = sub.add_parser("match", parents=[common], help="cross-scale matching LR -> REF, saved as .npz",
                       description="Match stride-grid centres of the x8 upsampled LR in REF; "
                                   "saves arrays 'centers' and 'matches' (N, 2) (y, x) in HR pixels.")
    p.add_argument("lr", metavar="LR", help="the low-resolution input image")
    p.add_argument("ref", metavar="REF", help="the high-resolution reference image (at least 64x64)")
    p.add_argument("out", metavar="OUT.npz", help="where the centres and matches go")
    p.add_argument("--method", required=True, choices=matchers, help="matcher")
    p.add_argument("--stride", type=_int_in(1), default=8, help="spacing of the centres in HR pixels")
    p.add_argument("--search", type=_int_in(1), default=SEARCH, help="search window radius in HR pixels")
    p.add_argument("--device", choices=DEVICES, default="auto", help="where the networks run")
    p.add_argument("--precision", choices=PRECISIONS, default="auto", help="ccnet: " + PRECISION_HELP)
    p.set_defaults(func=cmd_match)

    p = sub.add_parser("ingest", parents=[common], help="copy a data set into a Zarr store",
                       description="Copy Sintel clips or a light field into a Zarr v3 store, all-or-nothing.")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    q = kinds.add_parser("sintel", parents=[common], help="Sintel training folder: one scene per clip",
                         description="Ingest Sintel clips (scene = clip name, kind video).")
    q.add_argument("root", metavar="ROOT", help="the training/ folder (clean/, final/, flow/, ...)")
    q.add_argument("--store", required=True, metavar="S.zarr")
    q.add_argument("--clips", nargs="+", metavar="CLIP", help="clip names (default: all with the pass)")
    q.add_argument("--pass", dest="pass_name", choices=RENDER_PASSES, default="final")
    q.add_argument("--overwrite", action="store_true", help="replace scenes whose content differs")
    q.set_defaults(func=cmd_ingest_sintel)
    q = kinds.add_parser("lightfield", parents=[common], help="light field or stereo pair: one scene",
                         description="Ingest an HCI folder, a <u>_<v>.png folder, a Middlebury pair or "
                                     "an HDF5 file (kind lightfield, or stereo for a stereo pair).")
    q.add_argument("path", metavar="PATH")
    q.add_argument("--store", required=True, metavar="S.zarr")
    q.add_argument("--name", help="scene name (default: the folder or file name)")
    q.add_argument("--overwrite", action="store_true", help="replace the scene if its content differs")
    q.set_defaults(func=cmd_ingest_lightfield)

    p = sub.add_parser("info", parents=[common], help="describe a store (read-only)",
                       description="Print the scenes, arrays and runs of a store; opens it read-only.")
    p.add_argument("store", metavar="S.zarr", help="the store")
    p.add_argument("--all", action="store_true", help="list every target of each run (default: the first few)")
    p.add_argument("--json", action="store_true", help="print the same information as JSON (NaN metrics: null)")
    p.add_argument("--verify", action="store_true",
                   help="also decode every chunk and re-check each scene's source_sha256 (reads everything)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("train", parents=[common], help="train a network (forwards to refsr.train)",
                       description="Train ccnet, srresnet or ssnet, or all three from scratch with chain; "
                                   "further arguments go to the trainer (try `refsr train NET --help`).")
    p.add_argument("net", metavar="NET", choices=TRAINERS, help="|".join(TRAINERS))
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the trainer, e.g. --config cpu")
    p.set_defaults(func=cmd_train)
    return parser


STORE_COMMANDS = ("ingest", "info")


def _raise_interrupted(signum: int, frame: object) -> None:
    from refsr.io.atomic import Interrupted

    raise Interrupted(signum)


def _settle_store_io() -> None:
    """After an interrupt: let Zarr's pending I/O end, so that exit prints no asyncio warnings."""
    store = sys.modules.get("refsr.store")
    if store is not None:
        store.settle_io()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `refsr` command; returns the exit code (2 bad input, 1 other failure, 130 after SIGINT;
    `ingest` and `info` also 143 after SIGTERM)."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    # Store commands stop on SIGTERM as on SIGINT (the store is left whole either way).
    handled = args.command in STORE_COMMANDS and threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGTERM, _raise_interrupted) if handled else None
    try:
        return args.func(args)
    except InputError as err:
        if debug:
            traceback.print_exc()
        _say(f"refsr: error: {err.path}: {err.problem}")
        return 2
    except KeyboardInterrupt as err:
        _settle_store_io()
        signum = getattr(err, "signum", signal.SIGINT)
        _say(f"refsr: interrupted ({signal.Signals(signum).name})")
        return 128 + signum
    except Exception as err:
        if debug:
            traceback.print_exc()
        message = " ".join(str(err).split()) or type(err).__name__
        _say(f"refsr: error: {message}")
        return 1
    finally:
        if handled and argv is None:  # the `refsr` command is done: a late signal must not break the exit
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif handled and before is not None:
            signal.signal(signal.SIGTERM, before)


if __name__ == "__main__":
    sys.exit(main())
