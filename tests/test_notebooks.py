"""Run every library notebook as one pytest test, through nbdev's own test machinery.

Which notebooks: exactly those `nbdev_test` would run -- `nbglob` over `nbs_path` (recursive, skipping
names that start with `_` or `.`), minus folders holding a `.notest` file (so `nbs/paper/` is out) and the tour `index.ipynb` (`test_tour.py` runs it).
How: `nbdev.test.test_nb` with `skip_flags` = settings.ini `tst_flags`, cwd = the notebook's folder,
`IN_TEST=1`, in this process (as `nbdev_test --n_workers 0` does).

Flagged cells (`#| slow`, `#| gpu`, ...) are skipped unless named in `RLPJEPA_TEST_FLAGS`, the
counterpart of `nbdev_test --flags`:

    RLPJEPA_TEST_FLAGS="slow gpu" make test
    make test PYTEST_ARGS="-k 01_distributions"      # one notebook
"""
import io, os, re, contextlib
from pathlib import Path

import pytest
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.frontmatter import FrontmatterProc
from nbdev.process import NBProcessor
from nbdev.test import test_nb as run_nb  # aliased: pytest would collect a name starting with `test`

ROOT = Path(__file__).resolve().parents[1]
CFG = get_config(path=ROOT)
NBS = Path(CFG.nbs_path)
SKIP_FLAGS = CFG.tst_flags.split()
FORCE_FLAGS = os.environ.get('RLPJEPA_TEST_FLAGS', '').replace(',', ' ').split()
_ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')

def _notebooks():
    with working_directory(ROOT):  # nbglob reads `recursive` from the settings.ini found from cwd
        files = nbglob(NBS, as_path=True)
    # as nbdev_test's _keep_file; the tour runs on the real data in tests/test_tour.py (and through JupyterLab in test_lab.py)
    return [f.resolve() for f in sorted(files) if not (f.parent/'.notest').exists() and f.name != 'index.ipynb']

NOTEBOOKS = _notebooks()

def _skip_exec(fn):
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    return str(getattr(nb, 'frontmatter_', {}).get('skip_exec', False)).lower() in ('true', '1', 'yes')

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(f.relative_to(NBS)) for f in NOTEBOOKS])
def test_notebook(nb):
    if _skip_exec(nb): pytest.skip('frontmatter skip_exec: true')
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        ok, secs = run_nb(nb, skip_flags=SKIP_FLAGS, force_flags=FORCE_FLAGS, basepath=ROOT)
    if not ok:
        tb = _ANSI.sub('', err.getvalue()).strip()
        last = tb.splitlines()[-1] if tb else 'no traceback captured'
        pytest.fail(f'{nb.name}: {last}\n\n{tb}', pytrace=False)  # 1st line: pytest's short summary

def test_found_notebooks():
    "Guard against a silent zero: a broken glob or config must not turn into 'nothing to test'."
    assert NOTEBOOKS, f'no notebooks found under {NBS}'
