"""Seconds of one run's offline evaluation on this machine, part by part, the old recipe against the new default and other candidates,
on the same features, with the accuracy each gives (issue: evaluation and references 5x faster on 2 cores).

What it times, for one finished run (default: results/runs/tab2/p2_mu0, encoder_a): feature extraction of its training
and test images (`rlpjepa.offline.run_features`, uncached), then for h and z the converged linear probe
(`rlpjepa.evaluate.lbfgs_probe`) and the weighted kNN (`knn_accuracy`). Variants, interleaved over `--rounds` (medians):

- `f64`       the old recipe: plain L-BFGS in float64 to a gradient of params.yaml's `probe.tol`;
- `f32`       the same solve in float32 (same tolerance);
- `f32 pre`   the new default: float32, preconditioned by (Σ + l2)^(-1/2) (the same minimizer, see lbfgs_probe);
- `kNN chunk` the kNN with another test-block size (memory against speed; the result is identical).

Each variant's accuracy is printed beside the old recipe's, with the difference (the goal: within 0.05 points), and the time
ratio to the old recipe's measured in the same run. A run's evaluation is features + 2 probes + 2 kNN; the references stage is
the same work on 2 encoders x 3 init seeds x 6 projector kinds plus raw pixels.

Run: `python benchmarks/bench_eval.py [--run results/runs/tab2/p2_mu0] [--rounds 3] [--threads 2]`. Not a test.
"""
import argparse, platform, statistics, time
import torch
import yaml
from rlpjepa.evaluate import knn_accuracy, lbfgs_probe
from rlpjepa.offline import run_features

def timed(fn, rounds):
    ts, out = [], None
    for _ in range(rounds):
        t = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), out

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--run', default='results/runs/tab2/p2_mu0')
    ap.add_argument('--root', default='data')
    ap.add_argument('--params', default='params.yaml')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    probe = yaml.safe_load(open(a.params))['probe']
    print(f'# {platform.processor() or platform.machine()}, torch {torch.__version__}, {a.threads} threads, run {a.run}')
    t_feat, (tr, te) = timed(lambda: (run_features(a.run, 'train', root=a.root, cache=False),
                                      run_features(a.run, 'test', root=a.root, cache=False)), 1)
    print(f'features (train {tuple(tr[0].shape)}, test {tuple(te[0].shape)}, h and z): {t_feat:.2f} s')
    rows = []
    for part, i in (('h', 0), ('z', 1)):
        args = (tr[i], tr[2], te[i], te[2])
        kw = dict(l2=probe['l2'], max_iter=probe['max_iter'], tol=probe['tol'], return_info=True)
        variants = {'linear f64 (old)': lambda: lbfgs_probe(*args, **kw, dtype=torch.float64, precondition=False),
                    'linear f32': lambda: lbfgs_probe(*args, **kw, dtype=torch.float32, precondition=False),
                    'linear f32 pre (new)': lambda: lbfgs_probe(*args, **kw),
                    'kNN chunk 1024 (old)': lambda: (knn_accuracy(*args, k=probe['knn_k'], T=probe['knn_t']), {}),
                    'kNN chunk 4096': lambda: (knn_accuracy(*args, k=probe['knn_k'], T=probe['knn_t'], chunk_size=4096), {})}
        res = {}
        for _ in range(a.rounds):                       # interleaved rounds: the machine's load hits every variant alike
            for name, fn in variants.items():
                t, (acc, info) = timed(fn, 1)
                res.setdefault(name, dict(ts=[], acc=acc, iters=info.get('n_iter')))['ts'].append(t)
        for name, r in res.items():
            base = res['linear f64 (old)' if name.startswith('linear') else 'kNN chunk 1024 (old)']
            med, bmed = statistics.median(r['ts']), statistics.median(base['ts'])
            rows.append((part, name, med, bmed / med, r['acc'], r['acc'] - base['acc'], r['iters']))
    print(f"\n{'part':4} {'variant':24} {'s (median)':>10} {'speed-up':>9} {'top-1 %':>8} {'diff':>7} {'iters':>6}")
    for part, name, med, sp, acc, d, it in rows:
        print(f"{part:4} {name:24} {med:10.2f} {sp:8.2f}x {acc:8.2f} {d:+7.2f} {'' if it is None else it:>6}")
    old = t_feat + sum(r[2] for r in rows if r[1].endswith('(old)'))
    new = t_feat + sum(r[2] for r in rows if r[1].endswith('(new)') or r[1] == 'kNN chunk 1024 (old)')
    best = t_feat + sum(min(r[2] for r in rows if r[0] == p and r[1].startswith(k)) for p in 'hz' for k in ('linear', 'kNN'))
    print(f"\none run's evaluation (features {t_feat:.1f} s + probes): old recipe {old:.1f} s, new {new:.1f} s ({old / new:.2f}x), "
          f"fastest variants {best:.1f} s ({old / best:.2f}x); the goal is 5x")

if __name__ == '__main__':
    main()
