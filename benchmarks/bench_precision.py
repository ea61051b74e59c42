"""Seconds per pretraining step of the profile's encoders on this machine: fp32 against bf16 autocast, channels_last
and torch.compile, measured side by side (interleaved rounds, medians), with the ratio to fp32 of the same run.

What it times: one full step of `rlpjepa.train` — two augmented views of a 256-image uint8 batch (rlpjepa.augment.Augment),
encoder + projector forward, the method's loss (Rectified LpJEPA, N = params.yaml's num_projections), the online
probes, backward, LARS — for each encoder of params.yaml (`encoder_a`, `encoder_b`). `torch.compile` compiles the
model (as `compile=true` does); its one-off compile time is printed separately and is paid by every training stage.

Run: `python benchmarks/bench_precision.py [--steps 6] [--rounds 3] [--threads 2] [--no-compile]`. Not a test: the
numbers depend on the CPU (bf16 autocast only pays on CPUs with AMX or fast AVX-512 BF16) and on its load.
"""
import argparse, platform, statistics, time
import torch
import yaml
from rlpjepa import models as M
from rlpjepa.augment import Augment
from rlpjepa.config import Config
from rlpjepa.methods import build_method, make_backbone
from rlpjepa.optim import build_optimizer
from rlpjepa.train import _Trainee

VARIANTS = {'fp32': dict(bf16=False, cl=False), 'fp32 + channels_last': dict(bf16=False, cl=True),
            'bf16 autocast': dict(bf16=True, cl=False), 'bf16 + channels_last': dict(bf16=True, cl=True)}

def step_fn(enc:dict, n_proj:int, bf16:bool, cl:bool, compile_:bool):
    "A closure running one training step of encoder `enc` (params.yaml section) with the given precision and memory format."
    cfg = Config.from_dict({k: v for k, v in enc.items() if k != 'dataset'} | dict(num_projections=n_proj), 'encoder')
    torch.manual_seed(0)
    bb = make_backbone(cfg, 1)
    model, loss = build_method(cfg, 1, bb)
    net = _Trainee(model, loss, bb.num_features, cfg.proj_dim, 10)
    if cl: net = net.to(memory_format=torch.channels_last)
    opt, aug = build_optimizer(cfg, net), Augment('fashion_mnist')
    if compile_: net.model.compile()
    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 256, (cfg.batch_size, 1, 28, 28), dtype=torch.uint8, generator=g), torch.randint(0, 10, (cfg.batch_size,), generator=g)
    mf = (lambda t: t.contiguous(memory_format=torch.channels_last)) if cl else (lambda t: t)
    def step():
        v1, v2 = aug.two_views(x)
        with torch.autocast('cpu', torch.bfloat16, enabled=bf16):
            l, _, _ = net(mf(v1), mf(v2), y)
        opt.zero_grad(set_to_none=True); l.backward(); opt.step()
    return step

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--params', default='params.yaml')
    ap.add_argument('--steps', type=int, default=6)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--no-compile', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    P = yaml.safe_load(open(a.params))
    n_proj = P['pretrain']['num_projections']
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {a.threads} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, batch of two views, N = {n_proj}\n")
    print('| encoder | variant | s / step | speed-up vs fp32 | first two steps (s; compiles) |\n|---|---|---:|---:|---:|')
    for name in ('encoder_a', 'encoder_b'):
        enc = P[name]
        variants = dict(VARIANTS)
        if not a.no_compile: variants['fp32 + torch.compile'] = dict(bf16=False, cl=False, compile_=True)
        steps, times, compile_s = {}, {k: [] for k in variants}, {}
        for k, v in variants.items():
            steps[k] = step_fn(enc, n_proj, v['bf16'], v['cl'], v.get('compile_', False))
            t0 = time.perf_counter(); steps[k](); steps[k](); compile_s[k] = time.perf_counter() - t0   # warm-up (compiles)
        for _ in range(a.rounds):
            for k in variants:                                                                     # interleaved
                t0 = time.perf_counter()
                for _ in range(a.steps): steps[k]()
                times[k].append((time.perf_counter() - t0) / a.steps)
        base = statistics.median(times['fp32'])
        label = f"{name}: {enc['backbone']} w{enc['width']}"
        for k in variants:
            m = statistics.median(times[k])
            print(f"| {label} | {k} | {m:.3f} | {base / m:.2f}× | {compile_s[k]:.1f} |" if 'compile' in k else f"| {label} | {k} | {m:.3f} | {base / m:.2f}× | |")

if __name__ == '__main__': main()
