"""Int8 graphs: are ONNX Runtime's dynamically quantised encoder and decoder step faster, and exact enough?

    python benchmarks/int8.py --dataset DS [--split test] [--rounds 3] [--keep DIR]
    python benchmarks/int8.py --kit [--rounds 3]

The shipped model's graphs (models/weights/default) are quantised with
`onnxruntime.quantization.quantize_dynamic` (int8 weights, activations quantised at run time) in
the variants below, written with the rest of the model folder into a temporary folder (or
--keep DIR, e.g. for `scripts/model_card_eval.py --onnx DIR/q8`). Every variant greedy-decodes
the split's clips (features as `decode_samples`, batches of 256 clips, the model's caption
length) on single-threaded sessions; timed: the encoder alone on the same chunks, and whole
greedy decoding; --rounds interleaved rounds, best and median. Exactness: the share of captions
whose tokens equal the float graphs' (at the default level), and the mean |score| difference
where they agree. Levels: ORT_ENABLE_BASIC is m2t's default; the int8 graphs need
ORT_ENABLE_EXTENDED, which fuses DynamicQuantizeLinear + MatMulInteger + Cast + Mul into
DynamicQuantizeMatMul (at the basic level those four ops cost more than the int8 GEMM saves).

--kit: benchmarks/decode.py's KIT-size random model instead (256 clips of 62 frames, 20-token
captions, 1 thread): float graphs at the default level and per-channel int8 graphs at the
extended level, greedy and encoder alone, against the authors' greedy (benchmarks/reference_loop.py).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before onnxruntime starts threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as the CLI: no spinning numpy threads

import argparse  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: E402

from m2t.models import data as D  # noqa: E402
from m2t.models import ort_decoding as O  # noqa: E402
from m2t.models.captioning import default_model_dir  # noqa: E402
from m2t.models.features import motion_features, pad_features  # noqa: E402
from m2t.models.modeldir import ONNX_DECODER, ONNX_ENCODER, decode_length  # noqa: E402
from m2t.models.onnx_model import load_onnx_bundle  # noqa: E402

# name: (quantise the encoder, quantise the decoder step, per-channel weight scales, weight type)
VARIANTS = {"q8": (True, True, False, QuantType.QInt8), "q8 per-channel": (True, True, True, QuantType.QInt8),
            "qu8": (True, True, False, QuantType.QUInt8), "q8 encoder only": (True, False, False, QuantType.QInt8),
            "q8 per-channel, encoder only": (True, False, True, QuantType.QInt8),
            "q8 decoder only": (False, True, False, QuantType.QInt8)}
# (label, variant or "float", session level)
RUNS = [("float (m2t's default)", "float", "ORT_ENABLE_BASIC"), ("float", "float", "ORT_ENABLE_EXTENDED"),
        ("q8, basic level", "q8", "ORT_ENABLE_BASIC")] + [(v, v, "ORT_ENABLE_EXTENDED") for v in VARIANTS]


def quantised_dirs(out: Path) -> dict:
    src = default_model_dir()
    dirs = {"float": src}
    for name, (enc, dec, per_channel, wtype) in VARIANTS.items():
        d = out / name.replace(",", "").replace(" ", "_")
        shutil.copytree(src, d, dirs_exist_ok=True)
        for graph, q in ((ONNX_ENCODER, enc), (ONNX_DECODER, dec)):
            if q:
                quantize_dynamic(str(src / graph), str(d / graph), per_channel=per_channel, weight_type=wtype)
        dirs[name] = d
    return dirs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset")
    ap.add_argument("--kit", action="store_true", help="the KIT-size random model of benchmarks/decode.py")
    ap.add_argument("--split", default="test")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", default=None, help="write the quantised model folders here")
    args = ap.parse_args(argv)
    if args.kit:
        return kit(args.rounds)
    if not args.dataset:
        ap.error("--dataset DS is needed (or --kit)")
    out = Path(args.keep or tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    dirs = quantised_dirs(out)
    bundle = load_onnx_bundle(default_model_dir(), "cpu", threads=1)
    root, _ = D.resolve_dataset(args.dataset)
    samples, _ = D.load_samples(root, D.read_split(root, args.split))
    feats = [motion_features(s.joints, bundle.norm, bundle.downsample) for s in samples]
    batches = [pad_features(feats[i:i + 256]) for i in range(0, len(feats), 256)]
    max_len, N = decode_length(bundle.meta), len(feats)
    runners = {label: O.OrtCaptioner(dirs[v], "cpu", threads=1, level=lvl) for label, v, lvl in RUNS}

    def encode(r):
        for x, m in batches:
            O._chunked(r, lambda rr, a, mm, pm: [rr.encode(a, mm, pm)], x, m, None, O.CHUNK, False) or r.encode(x, m)

    def decode(r):
        return [d for x, m in batches for d in O.greedy(r, x, m, max_len)]

    outs = {k: decode(r) for k, r in runners.items()}                    # warm-up, and the tokens
    times = {k: ([], []) for k in runners}
    for _ in range(args.rounds):
        for k, r in runners.items():
            for fn, ts in zip((encode, decode), times[k]):
                t0 = time.perf_counter()
                fn(r)
                ts.append(time.perf_counter() - t0)
    print(f"{N} clips of {args.split} ({args.dataset}), batches of 256, captions of at most {max_len} tokens, "
          f"1 thread, best of {args.rounds} rounds [median]; load average {os.getloadavg()[0]:.2f}")
    ref = outs[RUNS[0][0]]
    base = min(times[RUNS[0][0]][1])
    for k in runners:
        (enc, dec), o = times[k], outs[k]
        same = [a.ids == b.ids for a, b in zip(ref, o)]
        diff = np.mean([abs(a.score - b.score) for a, b, s in zip(ref, o, same) if s])
        print(f"  {k:30s} encoder {min(enc) * 1e3 / N:.3f} [{statistics.median(enc) * 1e3 / N:.3f}] ms/clip; greedy "
              f"{min(dec) * 1e3 / N:.3f} [{statistics.median(dec) * 1e3 / N:.3f}] ms/clip, {base / min(dec):.2f}x the "
              f"default; same tokens {sum(same)}/{N} ({100 * np.mean(same):.1f}%), mean |score diff| {diff:.1e}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}" + (f"; model folders in {out}" if args.keep else ""))
    if not args.keep:
        shutil.rmtree(out)


def kit(rounds: int) -> None:
    import sys
    import torch
    sys.path.insert(0, str(Path(__file__).parent))
    from reference_loop import authors_greedy, cut
    from m2t.models.config import model_preset
    from m2t.models.export import export_model
    from m2t.models.network import Captioner
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Captioner(model_preset("kit", vocab_size=1700)).eval()
    x = torch.randn(256, 62, 21, 3, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(256, 62, dtype=torch.bool)
    xn, mn = x.numpy(), mask.numpy()
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as q:
        export_model(model, d, weights_sha256="-")
        shutil.copy(Path(d) / "onnx.json", q)
        for graph in (ONNX_ENCODER, ONNX_DECODER):
            quantize_dynamic(str(Path(d) / graph), str(Path(q) / graph), per_channel=True, weight_type=QuantType.QInt8)
        runners = {"float (default level)": O.OrtCaptioner(d, "cpu", threads=1),
                   "int8 per-channel (extended level)": O.OrtCaptioner(q, "cpu", threads=1,
                                                                       level="ORT_ENABLE_EXTENDED")}
        methods = {"authors greedy": lambda: authors_greedy(model, x, mask, 20)}
        for k, r in runners.items():
            methods[f"{k} greedy"] = lambda r=r: O.greedy(r, xn, mn, 20)
            methods[f"{k} encoder only"] = lambda r=r: [r.encode(xn[i:i + 64], mn[i:i + 64])
                                                         for i in range(0, 256, 64)]
        outs = {k: f() for k, f in methods.items()}
        times = {k: [] for k in methods}
        for _ in range(rounds):
            for k, f in methods.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
    ref = min(times["authors greedy"])
    print(f"KIT size, random weights, 256 clips x 62 frames, 20 steps, 1 thread, best of {rounds} rounds [median]; "
          f"load average {os.getloadavg()[0]:.2f}")
    for k, ts in times.items():
        print(f"  {k:48s} {min(ts) * 1e3 / 256:.3f} [{statistics.median(ts) * 1e3 / 256:.3f}] ms/caption = "
              f"{ref / min(ts):.1f}x the authors' greedy")
    want = [cut(t) for t in outs["authors greedy"]]
    for k in runners:
        print(f"  {k}: the authors' tokens on {sum(a.ids == b for a, b in zip(outs[f'{k} greedy'], want))}/256 clips")


if __name__ == "__main__":
    main()
