"""The tour as a newcomer runs it: `nbs/index.ipynb` executed top to bottom with `jupyter nbconvert --execute` on the
real Fashion-MNIST (what `make data` fetches), with exactly the settings it shows, and rendered to static HTML.

Checks: it runs to the end; the HTML shows every figure (the explorer included, as a frame and as a page with
sliders, not a widget placeholder), the tour's numbers beside their references (random init, raw pixels), and no
progress bars or warnings (no stderr output at all). `tests/test_notebooks.py` leaves the tour to this test."""
import os, re, subprocess, sys, time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TOUR = ROOT/'nbs'/'index.ipynb'
pytestmark = pytest.mark.skipif(not (ROOT/'data'/'fashion_mnist').is_dir(),
                                reason='needs Fashion-MNIST in data/ (`make data`)')

@pytest.fixture(scope='module')
def tour_html(tmp_path_factory):
    out = tmp_path_factory.mktemp('tour')
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}            # the reader's path, not a test shortcut
    env['PATH'] = f"{BIN}:{env.get('PATH', '')}"
    t0 = time.time()
    r = subprocess.run([str(BIN/'jupyter'), 'nbconvert', '--to', 'html', '--execute', '--ExecutePreprocessor.timeout=1200',
                        '--output-dir', str(out), str(TOUR)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, f"the tour failed under nbconvert --execute:\n{r.stderr[-4000:]}"
    print(f'tour executed and rendered in {time.time() - t0:.0f} s')
    html = (out/'index.html').read_text(encoding='utf-8')
    keep = ROOT/'.ci'/'out'; keep.mkdir(parents=True, exist_ok=True)
    (keep/'tour.html').write_text(html, encoding='utf-8')                    # the static tour, to open in a browser
    return html

def test_tour_shows_every_figure(tour_html):
    pngs = len(re.findall(r'<img[^>]+src="data:image/png;base64,', tour_html))
    # target density, activation rates + values, the explorer frame, Figure 3b (committed in results/)
    assert pngs >= 4, f'the static tour shows {pngs} figures'
    assert 'interactive(children' not in tour_html, 'a widget placeholder instead of a figure'
    assert '<iframe srcdoc=' in tour_html and 'type=&quot;range&quot;' in tour_html, 'the explorer page with sliders is missing'

def test_tour_numbers_stand_beside_references(tour_html):
    for s in ('random init', 'raw pixels', 'training added', 'measured ℓ0 = ', 'a fresh target sample (floor)', 'expected ℓ0 = '):
        assert s in tour_html, f'{s!r} is not in the executed tour'

def test_tour_prints_no_noise(tour_html):
    stderr = [m.start() for m in re.finditer('data-mime-type="application/vnd.jupyter.stderr"', tour_html)]
    assert not stderr, (f'{len(stderr)} stderr outputs (progress bars or warnings) in the executed tour: '
                        + ' | '.join(re.sub(r'<[^>]+>', '', tour_html[i:i + 600]) for i in stderr))
    assert not re.search(r'\d+it/s|\d+/\d+ \[\d\d:\d\d', tour_html), 'a progress bar in the executed tour'
