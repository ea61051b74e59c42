"""Which yardstick keeps the soft verdicts from flipping with the CPU type (issue 20 item 5).

The same params give different numbers on different CPU types (about the seed-to-seed spread), and a soft claim is
decided against a yardstick measured on the same results. This script takes the committed results of several
machines (git revisions of `results/`, or result folders), measures each candidate yardstick on each, re-decides the
soft accuracy claims of ablations, curve, fig3a, fig3c and the two tables with it (the notebooks' rules, from their
tables), and counts what moves between machines: a verdict that flips yes <-> no, and one that moves to or from
*not resolved*. The seed families' per-seed values are not committed, only their ranges (`tab*_seed_spread.csv`), so
the candidate pooled standard deviation is estimated from the ranges (mean of R / d2(n)). The library's yardstick
(`rlpjepa.claims.run_spread`) was the max range until this measurement; it is now the interval pooled over both
encoders, computed from the per-seed values. fig4b's nHSIC claims need per-seed nHSIC and are left out.

    python benchmarks/bench_verdicts.py                      # the committed result sets named in SETS
    python benchmarks/bench_verdicts.py --dir zen3=/tmp/x/results   # add a fresh run's results/
"""
import argparse, io, json, subprocess
from itertools import combinations
from pathlib import Path
import numpy as np, pandas as pd
from scipy import stats
from rlpjepa.claims import verdict, _all_parts

# committed results of the CPU default profile: revision -> the machine they were computed on
SETS = {'a43f3ca': 'Intel Xeon (AVX-512 BF16), float64 probe', '174ca64': 'AMD EPYC Zen 4, float64 probe',
        'a0410d4': 'AMD EPYC Zen 4, float32 probe'}
D2 = {2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326}   # E[range] / sigma of n normal draws
METRICS = ('encoder_linear', 'projector_linear')
L0_TOL = {'ablations': 0.15, 'fig3a': 0.1}   # the notebooks' l0_tol
DEFAULT_EPOCHS = 2                         # encoder_a.epochs of the default profile (the curve's reference epoch)

def reader(src):
    "A function path -> DataFrame / dict reading `results/<path>` at a git revision or under a folder."
    def read(path):
        if Path(src).is_dir(): text = (Path(src) / path).read_text()
        else: text = subprocess.run(['git', 'show', f'{src}:results/{path}'], capture_output=True, text=True, check=True).stdout
        return json.loads(text) if path.endswith('.json') else pd.read_csv(io.StringIO(text))
    return read

def yardsticks(read, confidence=0.95) -> dict:
    "Candidate yardsticks per (encoder, metric): the max range over that encoder's seed families (the old rule), and intervals."
    fam = {enc: read(f'{t}/{t}_seed_spread.csv') for enc, t in (('encoder_a', 'tab2'), ('encoder_b', 'tab1'))}
    for enc, f in fam.items():   # since the pooled yardstick, a table lists every encoder's families ('… · <backbone>'), its own first
        if f.family.str.contains(' · ').all():
            own = f.family.iloc[0].split(' · ')[-1]
            fam[enc] = f[f.family.str.endswith(' · ' + own)]
    both = pd.concat(fam.values())
    def margin(f, m):   # t-interval half-width for the difference of two single runs, sigma pooled from ranges
        sd = float(np.mean([r / D2[int(n)] for r, n in zip(f[m], f.n_seeds)]))
        dof = int((f.n_seeds - 1).sum())
        return float(stats.t.ppf(0.5 + confidence / 2, dof) * sd * np.sqrt(2))
    out = {}
    for enc, f in fam.items():
        for m in METRICS:
            out['max range (old rule)', enc, m] = float(f[m].max())
            out['interval, pooled per encoder', enc, m] = margin(f, m)
            out['interval, pooled over encoders', enc, m] = margin(both, m)
    return out

def _all(parts): return _all_parts('claim', dict(enumerate(parts)))[0]   # Claims.all_of's rule

def claims(read, ys, name, three_way=False) -> dict:
    """The soft accuracy claims, decided as the notebooks decide them, with the yardstick `name`. `three_way`: the claims
    of no difference ('within the spread': alike, not worse, no drop) are *not resolved* inside the yardstick, as every
    comparison is, instead of *yes*: yes only beyond it in the claim's favour, no beyond it against."""
    s = lambda enc, m: ys[name, enc, m]
    within = verdict if three_way else (lambda d, sp: bool(d >= -sp))   # d > 0: in the claim's favour
    alike = (lambda d, sp: None if d <= sp else False) if three_way else (lambda d, sp: bool(d <= sp))   # d = |largest difference|
    out = {}
    ab = read('ablations/ablations_table.csv')
    def knob(k): return ab[ab.ablation.str.startswith(k)]
    n = knob('number of projections').assign(N=lambda g: g.value.str.extract(r'(\d+)', expand=False).astype(int)).sort_values('N')
    lo, hi = n.iloc[0], n.iloc[-1]
    out['ablations.few_projections_suffice'] = _all([
        within(lo.encoder_linear - hi.encoder_linear, s('encoder_a', 'encoder_linear')),
        within(lo.projector_linear - hi.projector_linear, s('encoder_a', 'projector_linear')),
        bool(abs(lo.l0_sparsity - lo.target_l0) < L0_TOL['ablations'])])
    p = knob('projection type')
    out['ablations.projection_type_minor'] = _all([
        alike(float(np.ptp(p[m])), s('encoder_a', m)) for m in METRICS])
    g = knob('σ choice'); base, o = g[g.is_base].iloc[0], g[~g.is_base]
    out['ablations.sigma_choice'] = _all([within(base[m] - o[m].max(), s('encoder_a', m)) for m in METRICS])
    cv = read('curve/curve_table.csv')
    for run, c in cv[cv.epoch > 0].groupby('run', sort=False):
        c = c.set_index('epoch'); near = c.index[np.argmin(np.abs(c.index - DEFAULT_EPOCHS))]
        out[f"curve.more_training_helps_{run.split('/')[-1]}"] = _all(
            [verdict(c[m].iloc[-1] - c.loc[near, m], s('encoder_a', m)) for m in METRICS])
    f3 = read('fig3a/fig3a_table.csv'); r = f3[f3.cell == 'RGN × rectified'].iloc[0]; others = f3[f3.cell != r.cell]
    out['fig3a.rectify_both_best'] = _all([verdict(r[m] - others[m].max(), s('encoder_a', m)) for m in METRICS])
    ok = f3[(f3.encoder_linear >= f3.encoder_linear.max() - s('encoder_a', 'encoder_linear'))
            & (f3.projector_linear >= f3.projector_linear.max() - s('encoder_a', 'projector_linear'))
            & f3.cell.str.endswith('rectified') & ((f3.l0_sparsity - f3.target_l0).abs() < L0_TOL['fig3a'])]
    out['fig3a.rectify_both_sparse_and_accurate'] = list(ok.cell) == ['RGN × rectified']
    fc = read('fig3c/metrics.json')
    out['fig3c.flat_frontier'] = within(-fc['drop_at_sparse_at'], s('encoder_a', 'projector_linear'))
    for t, enc in (('tab1', 'encoder_b'), ('tab2', 'encoder_a')):
        df = read(f'{t}/{t}_table.csv'); df = df[df['Enc gain'].notna()]   # the trained rows (references have no gain)
        lp, bl = df[df.Method == 'Rectified LpJEPA'], df[df.Method != 'Rectified LpJEPA']
        se = s(enc, 'encoder_linear')
        if t == 'tab1':
            out['tab1.best_encoder_is_rectified'] = verdict(lp['Enc linear'].max() - bl['Enc linear'].max(), se)
            sp = lp[lp.Target.str.contains('-3')].iloc[0]; nc = bl[bl.Method.str.startswith('NCL')].iloc[0]
            out['tab1.sparse_rgn_vs_ncl'] = _all([verdict(sp['Enc linear'] - nc['Enc linear'], se), bool(sp['ℓ0'] <= 2 * nc['ℓ0'])])
        else:
            nl = bl[bl.Method.str.startswith(('NCL', 'LeJEPA'))]
            out['tab2.rgn_close_to_best'] = verdict(lp['Enc linear'].max() - nl['Enc linear'].max(), se)
    return {k: None if v is None else bool(v) for k, v in out.items()}   # numpy bools as True / False

WORD = {True: 'yes', False: 'no', None: 'n.r.'}

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--dir', action='append', default=[], help='NAME=results folder of another machine')
    ap.add_argument('--confidence', type=float, default=0.95)
    a = ap.parse_args(argv)
    sets = {rev: (desc, reader(rev)) for rev, desc in SETS.items()}
    for d in a.dir:
        k, _, path = d.partition('=')
        sets[k] = (k, reader(path))
    ys = {k: yardsticks(r, a.confidence) for k, (_, r) in sets.items()}
    names = list(dict.fromkeys(n for y in ys.values() for n, _, _ in y))
    print(f'Yardsticks (points; intervals at {a.confidence:.0%} for the difference of two runs):\n')
    rows = [dict(yardstick=n, encoder=e, metric=m, **{k: round(y[n, e, m], 2) for k, y in ys.items()})
            for n in names for e in ('encoder_a', 'encoder_b') for m in METRICS]
    t = pd.DataFrame(rows); vals = t[list(sets)]
    t['max/min over machines'] = (vals.max(axis=1) / vals.min(axis=1)).round(2)
    print(t.to_markdown(index=False), '\n')
    summary = []
    for n, three in ((n, t) for t in (False, True) for n in names):
        v = {k: claims(r, ys[k], n, three) for k, (_, r) in sets.items()}
        n = f"{n}; {'3-way' if three else '2-way'} 'within' claims"
        flips = moves = 0
        for x, y in combinations(sets, 2):
            for c in v[x]:
                a_, b_ = v[x][c], v[y][c]
                flips += (a_ is not None and b_ is not None and a_ != b_)
                moves += ((a_ is None) != (b_ is None))
        counts = {k: '/'.join(str(sum(w is q for w in vk.values())) for q in (True, False, None)) for k, vk in v.items()}
        summary.append(dict(yardstick=n, **{f'{k} yes/no/n.r.': c for k, c in counts.items()},
                            **{'yes<->no flips (machine pairs)': flips, 'to/from n.r.': moves}))
        print(f'### {n}\n')
        print(pd.DataFrame({k: {c: WORD[w] for c, w in vk.items()} for k, vk in v.items()}).to_markdown(), '\n')
    print(pd.DataFrame(summary).to_markdown(index=False))

if __name__ == '__main__':
    main()
