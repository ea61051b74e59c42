"""README.md leads a newcomer and holds no stale number.

- at most 200 lines; the Quick start is in the first screen and holds exactly the two commands (`make repro`, `make test`);
- its results section (written by the `report` stage) says what `results/summary.json` says: the gain over random
  init per encoder, the hard and soft claim counts, and it names every soft claim that does not hold;
- every relative link points to a file of the repository;
- the first library snippet runs as written.
"""
import json, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT/'README.md').read_text(encoding='utf-8')
SECTION = README.split('<!-- results:start -->')[1].split('<!-- results:end -->')[0]

def test_short_and_quick_start_first():
    lines = README.splitlines()
    assert len(lines) <= 200, f'README.md has {len(lines)} lines'
    start = next(i for i, l in enumerate(lines) if l.startswith('## Quick start'))
    assert start < 25, f'the Quick start begins at line {start + 1}, below the first screen'
    block = README.split('## Quick start', 1)[1].split('```bash', 1)[1].split('```', 1)[0]
    cmds = [l.split('#')[0].strip() for l in block.strip().splitlines()]
    assert cmds == ['make repro', 'make test'], cmds

def test_results_match_summary():
    s = json.loads((ROOT/'results'/'summary.json').read_text())
    c = s['claims']
    assert f"{c['hard_held']} of {c['hard']} hold" in SECTION
    assert f"{c['soft_held']} hold, {c['soft_failed']} do not, {c['soft_unresolved']} are not resolved" in SECTION
    for enc, g in s['gain'].items():
        line = next(l for l in SECTION.splitlines() if l.startswith(f'- {enc}'))
        assert f"gains {g['min']:+.1f} to {g['max']:+.1f} points over random init ({g['random_init']:.1f} %" in line, (line, g)
    # every soft claim that does not hold is named on a line of its own
    failed = re.findall(r'^- \*\*no\*\* — ', SECTION, re.M)
    assert len(failed) == c['soft_failed'], (len(failed), c['soft_failed'])
    for f in (ROOT/'results').glob('*/claims.json'):
        for name, v in json.loads(f.read_text()).items():
            if not v['hard'] and v['holds'] is False: assert f'`{name}`' in SECTION, f'{f.parent.name}/{name} does not hold and is not named'
    assert 'Raw pixels' in SECTION, 'the raw-pixel caveat is missing'

def test_links_exist():
    links = re.findall(r'\]\(([^)#]+)\)', README)
    local = [l for l in links if not re.match(r'[a-z]+://', l)]
    missing = [l for l in local if not (ROOT/l).exists()]
    assert local and not missing, missing

def test_first_snippet_runs(tmp_path):
    code = README.split('```python', 1)[1].split('```', 1)[0]
    r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
