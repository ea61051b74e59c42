"""Audits of the repository, not of a module: the paper notebooks against params.yaml, every profile against the
config, and dvc.yaml against the code its stages run.

The DAG is right by construction, and `test_stage_deps_cover_the_code_they_run` checks it: every module a stage's
code can import -- found statically, function-level imports included, closed over the imports inside `rlpjepa` -- is
a dependency of that stage. A stage's code is the module of its command's console script (settings.ini
`console_scripts`: `rlpjepa-pretrain` -> `rlpjepa.train`, `rlpjepa-eval` and `rlpjepa-references` -> `rlpjepa.offline`,
`rlpjepa-paper` -> `rlpjepa.orchestrate`) and, for the artifact stages and the report, every module their paper
notebooks import (for the one templated `paper` definition: all of them but the report). The other audits: every
artifact of params.yaml `artifacts` has its section, its notebook, its DVC outputs and its place in the report, and the
tracked params of the training stages hold no key that does not change the weights (`runtime`: progress bars,
logging), so toggling those reruns nothing.

Paths are relative to the repository root, so this runs from anywhere (`make test` runs it from the root).
"""
import ast, configparser, shlex, shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from rlpjepa.config import RUN_KEYS, load_config
from rlpjepa.methods import build_method
from rlpjepa.orchestrate import apply_profile, notebook_parameters, paper_parameters

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT/'nbs'/'paper'
PARAMS = yaml.safe_load((ROOT/'params.yaml').read_text())
DVC = yaml.safe_load((ROOT/'dvc.yaml').read_text())
STAGES = DVC['stages']

def _stage(name:str) -> dict: return STAGES[name].get('do', STAGES[name])   # a `foreach` stage's template, or the stage

# ---- the paper notebooks and params.yaml ------------------------------------------------------------------------
def test_paper_notebooks_match_params():
    """Every paper notebook belongs to an artifact of params.yaml `artifacts` (or is the report), every section is
    valid for its notebook, and the notebook's literal defaults equal the section of its first artifact, so running a
    notebook by hand gives what `dvc repro` gives."""
    import papermill
    first = {}
    for id, a in PARAMS['artifacts'].items(): first.setdefault(a['notebook'], id)    # tab1 and tab2 share `table`: defaults = tab1
    for nb in sorted(PAPER.glob('*.ipynb')):
        assert nb.stem in first or nb.stem == 'report', f"{nb} is the notebook of no artifact in params.yaml `artifacts`"
        defaults = notebook_parameters(nb)
        assert {'out_dir', 'quick'} <= set(defaults), f"{nb}: the parameters cell lacks out_dir / quick"
        pm = set(papermill.inspect_notebook(str(nb)))   # papermill silently drops a default it cannot parse (e.g. '=' in a comment)
        assert pm == set(defaults), f"{nb}: papermill cannot parse the parameters {sorted(set(defaults) - pm)}"
        id = first.get(nb.stem, nb.stem)
        for k, v in (PARAMS.get(id) or {}).items():
            assert defaults[k] == v, f"{nb}: default {k} = {defaults[k]!r}, params.yaml {id}.{k} has {v!r}"
    for id in [*PARAMS['artifacts'], 'report']: paper_parameters(id, ROOT/'params.yaml', PAPER)   # every section is valid for its notebook

# ---- the profiles -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('profile', [None, 'smoke', 'paper'])
def test_profile_gives_valid_configs(profile, tmp_path):
    """Every profile (the default, `params/smoke.yaml`, `params/paper.yaml`) gives a valid `Config` for every
    pretraining run of `dvc.yaml`, and each encoder builds (e.g. the paper profile's ResNets need width 64)."""
    (tmp_path/'params').mkdir()
    shutil.copy(ROOT/'params.yaml', tmp_path/'params.yaml')
    for f in (ROOT/'params').glob('*.yaml'): shutil.copy(f, tmp_path/'params'/f.name)
    if profile: apply_profile(profile, tmp_path/'params.yaml')
    P = yaml.safe_load((tmp_path/'params.yaml').read_text())
    runs = [('encoder_a', f"method=rectified_lpjepa p={p} mu={m}") for p in P['sweep']['p'] for m in P['sweep']['mu']]
    runs += [('encoder_a', r['args']) for r in P['runs_a'].values()] + [('encoder_b', r['args']) for r in P['runs_b'].values()]
    built = set()
    for enc, args in runs:
        c = load_config(tmp_path/'params.yaml', ['pretrain', enc], shlex.split(args))
        if (enc, c.method) not in built:
            build_method(c, in_chans=1 if c.dataset in ('fashion_mnist', 'digits') else 3); built.add((enc, c.method))
    assert P['profile'] == (profile or 'cpu')

# ---- dvc.yaml against the code its stages run --------------------------------------------------------------------
def _imports(source:str) -> set:
    "rlpjepa modules imported anywhere in `source` (absolute `rlpjepa.x`, `from rlpjepa import x`, relative `.x`)."
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import): out |= {a.name.split('.')[1] for a in node.names if a.name.startswith('rlpjepa.')}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level == 1: out.add(mod.split('.')[0]) if mod else out.update(a.name for a in node.names)
            elif mod == 'rlpjepa': out |= {a.name for a in node.names}
            elif mod.startswith('rlpjepa.'): out.add(mod.split('.')[1])
    return {m for m in out if (ROOT/'rlpjepa'/f'{m}.py').exists()}

def _closure(mods:set) -> set:
    "`mods` and every rlpjepa module they import, directly or not."
    todo, seen = list(mods), set()
    while todo:
        m = todo.pop()
        if m in seen: continue
        seen.add(m); todo += list(_imports((ROOT/'rlpjepa'/f'{m}.py').read_text()) - seen)
    return seen

def _nb_imports(nb) -> set: return _imports('\n'.join(c.source for c in nbformat.read(str(nb), 4).cells if c.cell_type == 'code'))
def _deps(stage:dict) -> set: return {Path(d).stem for d in stage['deps'] if str(d).startswith('rlpjepa/') and str(d).endswith('.py')}

def _console_scripts() -> dict:
    "Console script name -> the rlpjepa module it runs (settings.ini `console_scripts`)."
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    out = {}
    for entry in cfg['DEFAULT']['console_scripts'].split():
        name, target = entry.split('=')
        out[name] = target.split(':')[0].removeprefix('rlpjepa.')
    return out

def test_console_scripts_exist():
    for name, mod in _console_scripts().items(): assert (ROOT/'rlpjepa'/f'{mod}.py').exists(), f"{name} runs rlpjepa.{mod}, which does not exist"

def test_stage_deps_cover_the_code_they_run():
    scripts = _console_scripts()
    for name in STAGES:
        s = _stage(name)
        listed = _deps(s)
        gone = sorted(m for m in listed if not (ROOT/'rlpjepa'/f'{m}.py').exists())
        assert not gone, f"stage {name} depends on modules that do not exist: {gone}"
        cmd = shlex.split(s['cmd'])[0]
        if cmd in scripts:
            need = _closure({scripts[cmd]})
            assert need <= listed, f"stage {name} runs rlpjepa.{scripts[cmd]} ({cmd}), which imports {sorted(need - listed)}: add them to its deps"
    for nb in sorted(PAPER.glob('*.ipynb')):   # the paper notebooks and the report: every module they import
        need = _closure(_nb_imports(nb))
        have = _deps(_stage('paper') if nb.stem != 'report' else _stage('report'))
        assert need <= have, f"{nb.name} imports {sorted(need - have)} (directly or through rlpjepa), which its dvc.yaml stage does not depend on"
    for name in STAGES:                          # stages of one family (pretrain_sweep, pretrain_a, pretrain_b) run the same code
        for twin in [k for k in STAGES if k.split('_')[0] == name.split('_')[0] and k != name]:
            assert _deps(_stage(twin)) == _deps(_stage(name)), f"stages {twin} and {name} run the same code but list different modules"

def test_artifacts_complete():
    "Every artifact has its section, its notebook, its folder among the report's dependencies; plots and metrics belong to the report."
    art = PARAMS['artifacts']
    for id, a in art.items():
        assert id in PARAMS, f"artifact {id} has no params.yaml section"
        assert (PAPER/f"{a['notebook']}.ipynb").exists(), f"artifact {id}: no notebook {a['notebook']}"
        assert f'results/{id}' in STAGES['report']['deps'] and id in PARAMS['report']['artifacts'], f"artifact {id} is missing from the report"
    for p in DVC['plots']: assert Path(p).parts[1] in art, f"plot {p} belongs to no artifact"
    # DVC's metrics are the report's summary (numbers): `dvc exp show` shows it, not every claim of every artifact
    assert DVC['metrics'] == ['results/summary.json'] and 'results/summary.json' in str(STAGES['report']['outs']), DVC['metrics']
    # DVC deletes a stage's outs before it runs: an out the stage edits in place (README.md's results section) must persist
    readme = [o for o in STAGES['report']['outs'] if isinstance(o, dict) and 'README.md' in o]
    assert readme and readme[0]['README.md'].get('persist'), "report: README.md must be a `persist: true` out, or dvc repro deletes README"

def test_training_params_change_the_weights():
    "The tracked params of the training stages hold no key that does not change the weights; `runtime` holds only such keys."
    for name in ('pretrain_sweep', 'pretrain_a', 'pretrain_b'):
        s = _stage(name)
        assert 'runtime' not in s['params'], f"{name} tracks `runtime`"
        for sec in s['params']:
            v = PARAMS
            for part in sec.split('.'): v = v[part]                  # a section, or one dotted key (`sweep.epochs`)
            bad = (set(v) if isinstance(v, dict) else {sec.split('.')[-1]}) & (RUN_KEYS - {'root'})
            assert not bad, f"params.yaml `{sec}` (tracked by {name}) holds keys that do not change the weights: {sorted(bad)}; move them to `runtime`"
    assert set(PARAMS['runtime']) <= RUN_KEYS, f"params.yaml `runtime` holds keys that change results: {sorted(set(PARAMS['runtime']) - RUN_KEYS)}"

def test_one_eval_stage_per_group():
    "params.yaml `evals` lists exactly the groups the runs define (one evaluation stage per group of runs)."
    groups = {'sweep'} | {v['group'] for s in ('runs_a', 'runs_b') for v in PARAMS[s].values()}
    assert set(PARAMS['evals']) == groups, f"params.yaml `evals` {PARAMS['evals']} must list the groups of the runs: {sorted(groups)}"

@pytest.mark.parametrize('f', ['params.yaml', 'dvc.yaml'])
def test_yaml_has_no_duplicate_keys(f):
    "Strict YAML: a duplicate key (two runs of one name) is an error, not a silent overwrite."
    from ruamel.yaml import YAML
    YAML().load((ROOT/f).read_text())
