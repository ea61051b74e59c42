"""Timing of RDMReg's sliced Wasserstein (ours vs the plain Eq. 13 layout) and of GN_p sampling; prints a markdown table.

Run: `python benchmarks/bench_regularizers.py [--threads 2] [--repeats 7]`. Not a test: numbers depend on the machine.
"""
import argparse, platform, statistics, time
import torch
import torch.nn.functional as F
from rlpjepa.distributions import GeneralizedGaussian, RectifiedGeneralizedGaussian
from rlpjepa.regularizers import RDMReg, random_projections, sliced_wasserstein

def plain_sw(z, y, P):
    "Eq. 13 as written (and as in the authors' code): (B, N) projections of both sides, sorted along dim 0."
    pz, py = (z @ P.T).sort(dim=0).values, (y @ P.T).sort(dim=0).values
    return ((pz - py) ** 2).mean()

def fwd_bwd(f, z, *args):
    z.grad = None
    t = time.perf_counter()
    loss = f(z, *args)
    loss.backward()
    return time.perf_counter() - t, loss.item()

def interleaved(fns, repeats, warmup=2):
    "Median seconds of each zero-arg callable, run in alternating order so that machine load hits all alike."
    times = [[] for _ in fns]
    for i in range(warmup + repeats):
        order = range(len(fns)) if i % 2 == 0 else reversed(range(len(fns)))
        for j in order:
            t = fns[j]()
            if i >= warmup: times[j].append(t)
    return [statistics.median(t) for t in times]

def timed(f):
    def run():
        t = time.perf_counter(); f(); return time.perf_counter() - t
    return run

def main(threads=2, repeats=7, B=256, D=512, Ns=(512, 1024, 8192)):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    target = RectifiedGeneralizedGaussian(1., 0.)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {threads} threads, "
          f"median of {repeats} after 2 warm-up runs, B={B}, D={D}\n")
    print("| N | ours fwd+bwd (ms) | plain fwd+bwd (ms) | speed-up | RDMReg(z1, z2) incl. sampling (ms) |")
    print("|---:|---:|---:|---:|---:|")
    for N in Ns:
        P = random_projections(N, D, g)
        z = torch.randn(B, D, generator=g).relu().requires_grad_()
        y = target.sample((B, D), generator=g)
        (_, a), (_, b) = fwd_bwd(sliced_wasserstein, z, y, P), fwd_bwd(plain_sw, z, y, P)
        assert abs(a - b) <= 1e-5 * abs(b), (N, a, b)
        reg, z2 = RDMReg(target, N, seed=0), torch.randn(B, D, generator=g).relu()
        ours, plain, full = interleaved([lambda: fwd_bwd(sliced_wasserstein, z, y, P)[0],
                                         lambda: fwd_bwd(plain_sw, z, y, P)[0],
                                         lambda: fwd_bwd(reg, z, z2)[0]], repeats)
        print(f"| {N} | {ours*1e3:.1f} | {plain*1e3:.1f} | {plain/ours:.2f}× | {full*1e3:.1f} |")
    print("\n| p | GN_p sample (256, 512) (ms) |")
    print("|---:|---:|")
    for p in (0.5, 1., 2.):
        gn = GeneralizedGaussian(p)
        t, = interleaved([timed(lambda: gn.sample((B, D), generator=g))], max(repeats, 20))
        print(f"| {p:g} | {t*1e3:.2f} |")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeats', type=int, default=7)
    args = ap.parse_args()
    main(args.threads, args.repeats)
