"""``python -m spinedetect`` runs the command line (also under ``torchrun -m spinedetect``)."""

import sys

from spinedetect.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
