# Jupyter Server config for this repository: notebooks under nbs/ stay byte for byte as committed when JupyterLab saves
# them. `make setup` links it as .venv/etc/jupyter/jupyter_server_config.py, a folder that every `jupyter lab` (or
# `jupyter notebook`, `jupyter server`) run from .venv reads with no flags, from any working directory, ahead of
# ~/.jupyter. A Jupyter outside .venv does not read it (`jupyter --paths` lists the folders a Jupyter reads).
#
# On open (measured, JupyterLab 4.6), Lab sets the kernelspec's display_name to "Python 3 (ipykernel)", adds
# language_info (with the Python version) and `trusted` to each code cell's metadata, marks the notebook dirty and
# autosaves it (every 120 s by default); Run All adds outputs, tracebacks and execution counts. The pre-save hook below
# cleans that model before the server writes it: `nbdev_clean` with settings.ini's keys (kernelspec display_name =
# name, only `allowed_metadata_keys`/`allowed_cell_metadata_keys`, no execution counts), and also no outputs and no
# widget state, as the notebooks are committed. The server then writes the JSON `nbdev_clean` writes (indent 1, sorted
# keys, UTF-8, trailing newline), so the bytes stay; but it always writes a source as a list of lines, where
# `nbdev_clean` keeps a one-string source as it is: such a cell changes once, at its first save from Lab.
# Notebooks outside settings.ini's nbs_path (e.g. the executed paper notebooks in results/) are saved as they are.
# settings.ini `jupyter_hooks = False` turns the hook off. tests/test_lab.py checks it through a plain `jupyter lab`.
import warnings
from pathlib import Path


def rlpjepa_clean_notebook(model, path, contents_manager, **kwargs):
    "Pre-save hook: save a notebook under nbs/ as `nbdev_clean` leaves it, without outputs."
    nb = model.get('content')
    if model.get('type') != 'notebook' or not isinstance(nb, dict) or nb.get('nbformat') != 4: return
    try:
        from fastcore.foundation import Config
        from nbdev.clean import clean_nb
    except ImportError: return                                        # a Jupyter without nbdev: saved unchanged
    get_os_path = getattr(contents_manager, '_get_os_path', None)
    os_path = Path(get_os_path(path) if get_os_path else Path(contents_manager.root_dir)/path).resolve()
    # found from the notebook's own folder, not the server's working directory (nbdev's get_config uses the latter)
    cfg = Config.find('settings.ini', os_path.parent, types=dict(jupyter_hooks=bool, clear_all=bool, clean_ids=bool))
    if cfg is None or not cfg.get('jupyter_hooks', 'False'): return
    if (cfg.config_path/cfg.get('nbs_path', 'nbs')).resolve() not in os_path.parents: return
    clean_nb(nb, cfg.get('clear_all', 'False'), cfg.get('allowed_metadata_keys', '').split(),
             cfg.get('allowed_cell_metadata_keys', '').split(), cfg.get('clean_ids', 'True'))
    for cell in nb.get('cells', []):
        if cell.get('cell_type') == 'code': cell['outputs'] = []
    nb.get('metadata', {}).pop('widgets', None)


# traitlets validates a callable set from config twice and then warns that it overrides itself: not a conflict
warnings.filterwarnings('ignore', r'Overriding existing pre_save_hook \(rlpjepa_clean_notebook\) with a new one '
                        r'\(rlpjepa_clean_notebook\)')
c.ContentsManager.pre_save_hook = rlpjepa_clean_notebook  # noqa: F821 (`c` is the config object Jupyter passes in)
