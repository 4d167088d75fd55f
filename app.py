"""`python app.py`: the whole of tamma-dash in one process on its built-in demo fleet.

Any `tamma-dash run` flag works here too, e.g. `python app.py --port 8060 --config my.toml`.
"""

import sys

from tamma_dash.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["run", *sys.argv[1:]]))
